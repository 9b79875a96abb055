/**
 * How a connection ends: the login grace time, the idle timeout, a kick from
 * the console, a disconnect with its reason during login, the farewell that
 * tells each open channel why, and the server's shutdown. Keeps, per open
 * connection, its session channels and its SFTP sessions still ending.
 */
import type * as net from 'node:net';
import type { Connection, ServerChannel } from 'ssh2';
import type { Config } from '../config/types';
import type { Logger } from '../log/types';
import type { Peer } from './admission';
import type { ConnectionInfo, ConnectionRegistry } from './connections';
import { sendDisconnect } from './wire';

/** True when `p` settles within `ms`. */
function settlesWithin(p: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void p.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** How long a connection being ended may take to close before its socket is destroyed. */
const LINGER_MS = 2000;
/** How long the connections ended by a shutdown get to close before their sockets are destroyed. */
const SHUTDOWN_GRACE_MS = 500;
/** How long the channels of a connection being ended get to close before it ends anyway. */
const FAREWELL_MS = 2000;

export interface IdleWatch {
  /** The client did something: the idle timeout starts over. */
  touch(): void;
  stop(): void;
}

export interface ConnectionLifecycleOptions {
  limits: Pick<Config['limits'], 'loginGraceTime' | 'idleTimeout'>;
  logger: Logger;
  connections: ConnectionRegistry;
}

/** What is kept of one open connection. */
interface Live {
  /** Its session channels, which carry the reason it is ended (see farewell). */
  readonly channels: Set<ServerChannel>;
  /** Its SFTP sessions still ending (see `closed`). */
  readonly sftpEnds: Set<Promise<void>>;
}

export class ConnectionLifecycle {
  /** Per open connection, by id. */
  private readonly live = new Map<string, Live>();
  /** Channels with a pty: a terminal in raw mode needs "\r\n" to start a line. */
  private readonly onTerminal = new WeakSet<ServerChannel>();
  /** Login grace time, from the TCP accept to a successful login. */
  private readonly graces = new WeakMap<Peer, NodeJS.Timeout>();

  constructor(private readonly o: ConnectionLifecycleOptions) {}

  /**
   * Starts the login grace time of an admitted socket. Counted from the
   * accept, whatever the client sends meanwhile: trickling bytes does not buy
   * time.
   */
  startGrace(peer: Peer): void {
    const grace = setTimeout(() => {
      this.o.logger.info('login.timeout', { ip: peer.ip });
      peer.end('login grace time is over');
    }, this.o.limits.loginGraceTime * 1000);
    grace.unref();
    this.graces.set(peer, grace);
    peer.socket.once('close', () => clearTimeout(grace));
  }

  /** The login is complete and allowed: the grace time no longer runs. */
  loggedIn(peer: Peer | undefined): void {
    if (peer) clearTimeout(this.graces.get(peer));
  }

  /**
   * A function that ends the connection with `reason` in the DISCONNECT,
   * which OpenSSH prints; later calls do nothing.
   */
  disconnector(
    client: Connection,
    peer: Peer | undefined,
  ): (reason: string, code?: number) => void {
    let ending = false;
    return (reason, code) => {
      if (ending) return;
      ending = true;
      const socket = peer?.socket;
      if (socket?.writable && sendDisconnect(client, `miniftp: ${reason}`, code)) socket.end();
      else client.end();
      // A client that never closes its side must not keep the connection counted.
      if (socket) setTimeout(() => socket.destroy(), LINGER_MS).unref();
    };
  }

  /** A connection starts: listed for the console, its channels followed from now on. */
  opened(conn: ConnectionInfo): void {
    this.o.connections.add(conn);
    this.live.set(conn.id, { channels: new Set(), sftpEnds: new Set() });
  }

  /** Not closed yet. */
  isOpen(connId: string): boolean {
    return this.live.has(connId);
  }

  /**
   * The connection has closed: no longer listed. Resolves once its SFTP
   * sessions have ended (closed their files).
   */
  closed(connId: string): Promise<void> {
    const ends = [...(this.live.get(connId)?.sftpEnds ?? [])];
    this.live.delete(connId);
    this.o.connections.remove(connId);
    return Promise.allSettled(ends).then(() => undefined);
  }

  /** A session channel was opened: it is told the reason if the connection is ended. */
  track(connId: string, channel: ServerChannel, terminal: boolean): void {
    if (terminal) this.onTerminal.add(channel);
    const channels = this.live.get(connId)?.channels;
    if (!channels) return;
    channels.add(channel);
    channel.once('close', () => channels.delete(channel));
  }

  /** An SFTP session started; `ended` resolves when it has closed its files. */
  sftpStarted(connId: string, ended: Promise<void>): void {
    const ends = this.live.get(connId)?.sftpEnds;
    if (!ends) return;
    ends.add(ended);
    void ended.then(() => ends.delete(ended));
  }

  /**
   * Ends the connection (the console's `kick`, a deleted or disabled account,
   * a drain, the shutdown): its channels are told why, then `end` (which
   * sends the DISCONNECT with the reason) runs.
   */
  kick(conn: ConnectionInfo, reason: string, end: () => void): void {
    this.o.logger.info('connection.kill', { id: conn.id, user: conn.user, reason });
    this.farewell(conn.id, reason, end);
  }

  /**
   * The idle timeout counts what the client sends on its channels (SFTP
   * requests, console input), not the socket's traffic: ssh2 pings every
   * client after 15 s of silence and clients send keepalives of their own
   * (OpenSSH's ServerAliveInterval, MiniFTP's client), and either would keep
   * an unused connection open forever.
   */
  idleWatch(client: Connection, conn: ConnectionInfo, peer: Peer | undefined): IdleWatch {
    const seconds = this.o.limits.idleTimeout;
    if (seconds === 0) return { touch: () => undefined, stop: () => undefined };
    let over = false;
    const timer = setTimeout(() => {
      over = true;
      this.o.logger.info('connection.idle_timeout', { user: conn.user, ip: conn.ip });
      this.farewell(conn.id, `idle for ${seconds} s`, () => {
        client.end();
        peer?.socket.destroy();
      });
    }, seconds * 1000);
    timer.unref();
    return {
      // refresh() would re-arm a timer that has already fired.
      touch: () => void (over || timer.refresh()),
      stop: () => {
        over = true;
        clearTimeout(timer);
      },
    };
  }

  /**
   * The server stops. Its listener is closed already (`stopped` resolves once
   * every socket it accepted has gone); every connection is ended with its
   * reason, and the sockets still open after a short grace are destroyed.
   * The grace lets the farewell reach the client: a socket destroyed while an
   * upload's bytes wait unread in it is reset, and the client may lose what
   * it had not read yet, the reason included.
   */
  async shutdown(stopped: Promise<void>, sockets: readonly net.Socket[]): Promise<void> {
    for (const c of this.o.connections.list()) c.kill('server shutting down');
    if (await settlesWithin(stopped, SHUTDOWN_GRACE_MS)) return;
    for (const s of sockets) s.destroy();
    await stopped;
  }

  /**
   * The server drains: its listener is closed already (`stopped` resolves
   * once every socket it accepted has gone). The open connections run on for
   * up to `timeoutMs`; then each is ended with `reason`, and the sockets
   * still open once the farewells had their time are destroyed.
   */
  async drain(
    stopped: Promise<void>,
    sockets: () => readonly net.Socket[],
    o: { timeoutMs: number; reason: string },
  ): Promise<void> {
    if (await settlesWithin(stopped, o.timeoutMs)) return;
    const left = this.o.connections.list();
    this.o.logger.info('server.drain_timeout', { connections: left.length });
    for (const c of left) c.kill(o.reason);
    if (await settlesWithin(stopped, FAREWELL_MS + LINGER_MS + 500)) return;
    for (const s of sockets()) s.destroy();
    await stopped;
  }

  /**
   * Ends a connection with its reason shown to the user. ssh2 cannot put a
   * reason in its DISCONNECT, so each open channel gets it on stderr (OpenSSH's
   * sftp and ssh print it) and is closed; the connection ends once they are
   * closed, or after two seconds.
   */
  private farewell(connId: string, reason: string, end: () => void): void {
    const channels = [...(this.live.get(connId)?.channels ?? [])];
    let ended = false;
    const finish = (): void => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      end();
    };
    const timer = setTimeout(finish, FAREWELL_MS);
    timer.unref();
    let left = channels.length;
    if (left === 0) finish();
    for (const channel of channels) {
      channel.once('close', () => {
        if (--left === 0) finish();
      });
      // A channel that has finished already (a console command that ended the
      // server) is only waited for: writing to it would fail after the fact.
      if (channel.writableEnded || channel.stderr.writableEnded) continue;
      try {
        const eol = this.onTerminal.has(channel) ? '\r\n' : '\n';
        channel.stderr.write(`miniftp: disconnected: ${reason}${eol}`);
        channel.exit(1);
        channel.end();
      } catch {
        // Already closing: its 'close' still comes.
      }
    }
  }
}
