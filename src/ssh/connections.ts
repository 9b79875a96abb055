/** Live connections, for limits and for the admin console's `sessions` and `kick`. */
import type { LiveConnection } from '../admin/console-host';

/** A live connection; the user and method are set once the login is accepted. */
export interface ConnectionInfo extends LiveConnection {
  user: string | undefined;
  method: string | undefined;
  /** Logged in to the admin account (its channels go to the console). */
  isAdmin?: boolean;
}

/** Told when a connection has logged in and when a logged-in one has closed. */
export interface ConnectionObserver {
  loggedIn(info: ConnectionInfo): void;
  closed(info: ConnectionInfo): void;
}

export class ConnectionRegistry {
  private readonly byId = new Map<string, ConnectionInfo>();
  private next = 1;
  private readonly observers: ConnectionObserver[] = [];

  /** `idPrefix` keeps ids apart when several processes list their connections together. */
  constructor(private readonly idPrefix = '') {}

  newId(): string {
    return this.idPrefix + (this.next++).toString(36).padStart(4, '0');
  }

  watch(observer: ConnectionObserver): void {
    this.observers.push(observer);
  }

  /** The connection `id` has logged in (its user and method are set). */
  loggedIn(id: string): void {
    const info = this.byId.get(id);
    if (info) for (const o of this.observers) o.loggedIn(info);
  }

  add(info: ConnectionInfo): void {
    this.byId.set(info.id, info);
  }

  remove(id: string): void {
    const info = this.byId.get(id);
    this.byId.delete(id);
    if (info?.user !== undefined) for (const o of this.observers) o.closed(info);
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
