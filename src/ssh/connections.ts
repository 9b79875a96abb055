/** Live connections, for limits and for the admin console's `sessions` and `kick`. */
import type { LiveConnection, LiveConnections } from '../admin/console-host';

/** A live connection; the user and method are set once the login is accepted. */
export interface ConnectionInfo extends LiveConnection {
  user: string | undefined;
  method: string | undefined;
  /** Logged in to the admin account (its channels go to the console). */
  isAdmin?: boolean;
}

export class ConnectionRegistry implements LiveConnections {
  private readonly byId = new Map<string, ConnectionInfo>();
  private next = 1;

  newId(): string {
    return (this.next++).toString(36).padStart(4, '0');
  }

  add(info: ConnectionInfo): void {
    this.byId.set(info.id, info);
  }

  remove(id: string): void {
    this.byId.delete(id);
  }

  get(id: string): ConnectionInfo | undefined {
    return this.byId.get(id);
  }

  list(): ConnectionInfo[] {
    return [...this.byId.values()];
  }

  countForUser(user: string): number {
    let n = 0;
    for (const c of this.byId.values()) if (c.user === user) n++;
    return n;
  }

  /** Ends every connection of `user`; returns how many. */
  killUser(user: string, reason: string): number {
    let n = 0;
    for (const c of this.list()) {
      if (c.user === user) {
        c.kill(reason);
        n++;
      }
    }
    return n;
  }
}
