/** Live connections, for limits and for the admin console's `sessions` and `kick`. */

export interface ConnectionInfo {
  readonly id: string;
  readonly ip: string;
  readonly port: number;
  readonly since: Date;
  /** The client's SSH identification line, e.g. "SSH-2.0-OpenSSH_9.2p1 Debian-2". */
  readonly clientIdent?: string;
  user: string | undefined;
  method: string | undefined;
  /** Ends the connection. */
  kill(reason: string): void;
}

export class ConnectionRegistry {
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

  countFromIp(ip: string): number {
    let n = 0;
    for (const c of this.byId.values()) if (c.ip === ip) n++;
    return n;
  }

  countUnauthenticated(): number {
    let n = 0;
    for (const c of this.byId.values()) if (c.user === undefined) n++;
    return n;
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

  get size(): number {
    return this.byId.size;
  }
}
