/**
 * The link to the server, kept up by itself. When the connection is lost the
 * reason the server gave is shown ("miniftp: disconnected: server shutting
 * down"), and a new connection is made with the same credentials (the
 * password stays in memory for the client's life, never on disk), trying
 * again after 0.5, 1, 2, 4, 8 and 15 s before giving up. The transfer that
 * was running goes on through the queue's onConnectionLost: it runs again
 * and resumes by the MD5-prefix rule, then the rest of the queue follows.
 *
 * A kick by an administrator (or an account deleted or disabled) is not
 * undone behind the administrator's back: the client stays disconnected
 * until the user types `reconnect`. A wrong password or a changed host key
 * during a reconnection stops the tries at once.
 */
import { EventEmitter } from 'node:events';
import type { Bookmark } from './bookmarks';
import type { Connection } from './connect';
import { AuthenticationError, ClientError, HostKeyRejectedError } from './errors';
import type { SftpChannel } from './sftp-channel';
import type { TransferQueue } from './transfer-queue';

export type LinkState = 'connected' | 'reconnecting' | 'disconnected';

interface LinkEvents {
  /** The state changed; `note` says why, for the log. */
  state: [LinkState, string];
  /** A line for the user (a try that failed, the next wait). */
  note: [string];
}

/** A connection to another server (the open command), and how to make it again. */
export interface Opened {
  connection: Connection;
  dial(): Promise<Connection>;
  origin: Bookmark;
}

/** What the link changes in the session it serves (a ClientSession). */
export interface LinkedSession {
  link: Link | undefined;
  readonly queue: TransferQueue;
  remoteHome: string;
  remoteCwd: string;
  origin: Bookmark | undefined;
  attach(sftp: SftpChannel): void;
}

export interface LinkOptions {
  session: LinkedSession;
  /** Makes a new connection with the credentials of the first one, asking nothing. */
  dial(): Promise<Connection>;
  /** Connects to `[user@]host[:port]` or a bookmark's name (the open command). */
  open?(destination: string): Promise<Opened>;
  /** Waits before each try, in ms (default 500, 1000, 2000, 4000, 8000, 15000). */
  delaysMs?: readonly number[];
  /** Reconnections one transfer may go through before it fails (default 5). */
  perJob?: number;
}

const DEFAULT_DELAYS = [500, 1000, 2000, 4000, 8000, 15_000] as const;

/** A reason after which the client does not reconnect without being told to. */
const DELIBERATE = /kicked by|deleted|disabled/i;

export class Link extends EventEmitter<LinkEvents> {
  state: LinkState = 'connected';
  /** Why the last connection ended, in the server's words when it sent some. */
  reason: string | undefined;
  private current: Connection | undefined;
  private pending: Promise<SftpChannel> | undefined;
  private closing = false;
  /** Ends the wait between two tries at once (the client is quitting). */
  private wake: (() => void) | undefined;
  private readonly tries = new Map<number, number>();
  private dial: () => Promise<Connection>;

  constructor(
    private readonly o: LinkOptions,
    first: Connection,
  ) {
    super();
    this.dial = o.dial;
    this.use(first);
    o.session.link = this;
    o.session.queue.onConnectionLost = async (job) => {
      const n = (this.tries.get(job.id) ?? 0) + 1;
      this.tries.set(job.id, n);
      if (n > (o.perJob ?? 5) || !this.automatic) return undefined;
      return this.ensure();
    };
  }

  /** Whether a lost connection is made again without the user asking. */
  get automatic(): boolean {
    return !DELIBERATE.test(this.reason ?? '');
  }

  private use(c: Connection): void {
    this.current = c;
    this.o.session.attach(c.sftp);
    void c.sftp.closed.then(() => {
      if (this.current !== c || this.closing) return;
      this.reason = c.sftp.endReason;
      const said = this.reason ?? 'the connection to the server was lost';
      const next = this.automatic
        ? 'reconnecting'
        : 'not reconnecting by itself: type reconnect to connect again';
      this.setState('disconnected', `${said}; ${next}`);
      if (this.automatic) this.ensure().catch(() => undefined);
    });
  }

  private setState(state: LinkState, note: string): void {
    this.state = state;
    this.emit('state', state, note);
  }

  /**
   * The channel to work on: the current one while it is open, else a new
   * connection. After a kick only `force` (the reconnect command) connects.
   */
  ensure(force = false): Promise<SftpChannel> {
    if (this.state === 'connected' && this.current) return Promise.resolve(this.current.sftp);
    if (!force && !this.automatic) {
      return Promise.reject(
        new ClientError(`not connected (${this.reason ?? 'disconnected'}): type reconnect`),
      );
    }
    this.pending ??= this.redial().finally(() => (this.pending = undefined));
    return this.pending;
  }

  /** The `reconnect` command: a new connection now, whatever ended the last one. */
  async reconnect(): Promise<void> {
    if (this.state === 'connected') {
      const old = this.current;
      this.current = undefined;
      this.state = 'disconnected';
      this.reason = undefined;
      await old?.close().catch(() => undefined);
    }
    await this.ensure(true);
  }

  private async redial(): Promise<SftpChannel> {
    const delays = this.o.delaysMs ?? DEFAULT_DELAYS;
    this.setState('reconnecting', 'reconnecting…');
    let last: unknown;
    for (let i = 0; i <= delays.length && !this.closing; i++) {
      try {
        const c = await this.dial();
        if (this.closing) {
          await c.close().catch(() => undefined);
          break;
        }
        this.reason = undefined;
        this.use(c);
        this.setState('connected', 'reconnected');
        return c.sftp;
      } catch (err) {
        last = err;
        if (err instanceof AuthenticationError || err instanceof HostKeyRejectedError) break;
        const wait = delays[i];
        if (wait === undefined) break;
        const why = err instanceof Error ? err.message : String(err);
        this.emit('note', `reconnect try ${i + 1} failed (${why}); next in ${wait / 1000} s`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
    const why = last instanceof Error ? last.message : 'the client is closing';
    this.setState('disconnected', `could not reconnect: ${why}; type reconnect to try again`);
    throw new ClientError(`could not reconnect: ${why}`, { cause: last });
  }

  /**
   * The open command: leaves this server for another one. Refused while
   * transfers are queued, which would otherwise go to the wrong server.
   */
  async open(destination: string): Promise<Bookmark> {
    if (!this.o.open) throw new ClientError('open: this session cannot connect elsewhere');
    const busy = this.o.session.queue.pending();
    if (busy > 0) {
      throw new ClientError(`open: ${busy} transfers are queued or running; wait for them first`);
    }
    const next = await this.o.open(destination);
    const home = await next.connection.sftp.realpath('.').catch(async (err: unknown) => {
      await next.connection.close().catch(() => undefined);
      throw err;
    });
    const old = this.current;
    this.current = undefined;
    await old?.close().catch(() => undefined);
    this.dial = next.dial;
    this.reason = undefined;
    this.use(next.connection);
    const s = this.o.session;
    s.remoteHome = home;
    s.remoteCwd = home;
    s.origin = next.origin;
    this.setState(
      'connected',
      `connected to ${next.origin.user}@${next.origin.host}:${next.origin.port}`,
    );
    return next.origin;
  }

  /** Ends the connection for good (the client is quitting). */
  async close(): Promise<void> {
    this.closing = true;
    this.wake?.();
    await this.current?.close().catch(() => undefined);
  }
}
