/** Live connections, for limits and for the admin console's `sessions` and `kick`. */
import type { LiveConnection, LiveConnections } from '../admin/console-host';

/** A live connection; the user and method are set once the login is accepted. */
export interface ConnectionInfo extends LiveConnection {
  user: string | undefined;
  method: string | undefined;
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

/** Most characters of a client-supplied string (user name, software version) that are logged. */
export const LOGGED_STRING_MAX = 64;

/**
 * A client-supplied string as it may go into the log: cut to `max` characters
 * with a marker saying how much was left out, so a client cannot make the log
 * grow by sending long names.
 */
export function clipForLog(value: string, max = LOGGED_STRING_MAX): string {
  if (value.length <= max) return value;
  return `${value.slice(0, max)}…[cut, ${value.length - max} more characters]`;
}

/**
 * The chance (0 to 1) that a new connection is dropped while `unauthenticated`
 * connections have not logged in yet, as OpenSSH's MaxStartups start:rate:full:
 * none below `start`, `ratePercent` at `start`, rising linearly to all at `full`.
 */
export function startupDropChance(
  unauthenticated: number,
  start: number,
  ratePercent: number,
  full: number,
): number {
  if (unauthenticated >= full) return 1;
  if (unauthenticated < start) return 0;
  const rate = Math.min(100, Math.max(0, ratePercent));
  return (rate + ((100 - rate) * (unauthenticated - start)) / (full - start)) / 100;
}
