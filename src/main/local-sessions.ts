/** The console's view of the sessions of a server that is a single process alone on its store. */
import type { LiveConnection, LiveConnections, SessionView } from '../admin/console-host';
import type { ConnectionRegistry } from '../ssh/connections';

export function viewOf(c: LiveConnection): SessionView {
  return {
    id: c.id,
    ip: c.ip,
    port: c.port,
    since: c.since,
    clientIdent: c.clientIdent,
    user: c.user,
    method: c.method,
    bytes: c.bytes?.(),
  };
}

export class LocalSessions implements LiveConnections {
  readonly clustered = false;

  constructor(private readonly registry: ConnectionRegistry) {}

  list(): Promise<SessionView[]> {
    return Promise.resolve(this.registry.list().map(viewOf));
  }

  kick(id: string, reason: string): Promise<SessionView | undefined> {
    const conn = this.registry.get(id);
    conn?.kill(reason);
    return Promise.resolve(conn && viewOf(conn));
  }

  killUser(user: string, reason: string): Promise<number> {
    return Promise.resolve(this.registry.killUser(user, reason));
  }

  changed(): Promise<void> {
    return Promise.resolve();
  }
}
