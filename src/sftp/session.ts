/**
 * One SFTP v3 session on an SSH channel: frames packets, answers INIT, hands
 * each request to the scheduler (which runs requests concurrently, as clients
 * pipeline dozens, answers each id exactly once and in order, and pauses the
 * channel while too much is pending) and ends the session when the channel
 * does. What a request does is the dispatcher's; its handles are the handle
 * table's.
 */
import type { ServerChannel } from 'ssh2';
import { MiniftpError, describeError } from '../errors';
import type { Logger } from '../log/types';
import type { UserFs } from '../vfs/user-fs';
import type { SessionOps } from '../ops/session-ops';
import { BufferPool, PacketFramer, PacketReader, PacketWriter } from './codec';
import { PacketType, SFTP_VERSION } from './constants';
import type { ExtensionRegistry } from './extensions';
import { sendsLinkPathFirst } from './client-quirks';
import { HandleBudget } from './handle-budget';
import { HandleTable } from './handle-table';
import { RequestDispatcher, type SftpLimits } from './dispatcher';
import { RequestScheduler } from './request-scheduler';
import type { RoundTrip } from '../util/round-trip';

export type { SftpLimits } from './dispatcher';

/**
 * Bytes of WRITE payload and READ replies held in memory at once before the
 * channel is paused. OpenSSH's sftp keeps 64 requests of 256 KiB in flight;
 * 16 of them keep the disk (libuv's 4 threads) and a 2 MiB window busy, and
 * the client's others wait, 30 bytes each, in the channel.
 */
const MAX_PENDING_DATA_BYTES = 4 * 1024 * 1024;
/**
 * Free transfer buffers a session keeps, freed when it ends. A READ reply's
 * buffer stays in flight after its request is answered, until ssh2 has sent
 * it: with 16 requests running and ssh2's 2 MiB channel buffer, a download
 * cycles more than 16 of them. Keeping only 16 made the surplus garbage that
 * lived long enough to reach V8's old space: a higher peak RSS in downloads
 * (figures in docs/performance.md).
 */
const POOL_KEEP = 64;

export interface SftpSessionOptions {
  channel: ServerChannel;
  fs: UserFs;
  user: string;
  logger: Logger;
  limits: SftpLimits;
  extensions: ExtensionRegistry;
  /** The client's SSH identification line; some clients' quirks depend on it. */
  clientIdent?: string;
  /** Handles and listing memory shared by every session of the server; none when absent. */
  budget?: HandleBudget;
  /** Metrics, hook events and the user's bandwidth limits. */
  ops?: SessionOps;
  /** Told when VERSION leaves and when the first request arrives: a round trip. */
  roundTrip?: RoundTrip;
}

export class SftpSession {
  private readonly channel: ServerChannel;
  private readonly logger: Logger;
  private readonly extensions: ExtensionRegistry;
  private readonly pool: BufferPool;
  private readonly framer: PacketFramer;
  private readonly scheduler: RequestScheduler;
  private readonly dispatcher: RequestDispatcher;
  private initialized = false;
  /** The client sent EOF: once the packets before it are handled, the session ends. */
  private inputEnded = false;
  private processing = false;
  private closed = false;
  private readonly ops: SessionOps | undefined;
  private readonly roundTrip: RoundTrip | undefined;
  /** Reading is held back for the user's upload limit until this timer fires. */
  private holdTimer: NodeJS.Timeout | undefined;
  private endedResolve: () => void = () => undefined;
  /** Resolves once the session has ended and closed every file it had open. */
  readonly ended = new Promise<void>((resolve) => (this.endedResolve = resolve));
  private readonly ending = new AbortController();
  /**
   * Aborts when the channel closes: nobody can receive an answer any more, so
   * long work for the session (hashing) stops. A client's EOF alone does not
   * abort: the requests before it are still answered.
   */
  readonly signal: AbortSignal = this.ending.signal;

  constructor(o: SftpSessionOptions) {
    this.channel = o.channel;
    this.logger = o.logger;
    this.extensions = o.extensions;
    this.ops = o.ops;
    this.roundTrip = o.roundTrip;
    // One size for both: a READ reply is at most DATA_HEADER + maxPacket - 1024 bytes.
    this.pool = new BufferPool(o.limits.maxPacket, POOL_KEEP);
    this.framer = new PacketFramer(o.limits.maxPacket, this.pool);
    this.scheduler = new RequestScheduler(
      { maxPending: o.limits.maxPending, maxDataBytes: MAX_PENDING_DATA_BYTES },
      {
        send: (packet) => this.send(packet),
        pause: () => this.channel.pause(),
        resume: () => {
          if (!this.holdTimer) this.channel.resume();
          this.processPackets();
        },
      },
    );
    this.dispatcher = new RequestDispatcher({
      fs: o.fs,
      user: o.user,
      logger: o.logger,
      limits: o.limits,
      extensions: o.extensions,
      handles: new HandleTable(o.user, o.limits, o.budget),
      pool: this.pool,
      linkPathFirst: sendsLinkPathFirst(o.clientIdent),
      signal: this.signal,
      onMalformed: (err) => this.protocolError(err),
      ops: o.ops,
    });
  }

  start(): void {
    this.channel.on('data', (chunk: Buffer) => this.onData(chunk));
    // The client sends EOF when it is done (OpenSSH's sftp on "bye"): finish and close.
    this.channel.on('end', () => {
      this.inputEnded = true;
      this.processPackets();
    });
    this.channel.on('close', () => void this.shutdown('channel closed'));
    this.channel.once('close', () => this.ending.abort());
    this.channel.on('error', (err: Error) => {
      this.logger.warn('sftp.channel_error', { error: err.message });
      void this.shutdown('channel error');
    });
    this.channel.on('drain', () => this.scheduler.setOutputBlocked(false));
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    const up = this.ops?.up;
    if (up?.limited) this.holdBack(up.take(chunk.length));
    this.framer.push(chunk);
    this.processPackets();
  }

  /**
   * The user's upload limit: stops reading the channel for `ms` (the client's window then
   * fills and it waits); this session's timer, nobody else's time.
   */
  private holdBack(ms: number): void {
    if (ms <= 0 || this.holdTimer || this.closed) return;
    this.ops?.throttled('in', ms);
    this.channel.pause();
    this.holdTimer = setTimeout(() => {
      this.holdTimer = undefined;
      const more = this.ops?.up.take(0) ?? 0;
      if (more > 0) this.holdBack(more);
      else if (!this.scheduler.paused && !this.closed) this.channel.resume();
    }, ms);
  }

  /**
   * Handles the whole packets buffered so far, but none while the session is
   * paused: one chunk of channel data can hold a thousand small requests (a
   * READ is 30 bytes and allocates its reply up front), and the pending limit
   * must hold for those too, not only for the chunks after it.
   */
  private processPackets(): void {
    if (this.processing) return;
    this.processing = true;
    try {
      while (!this.closed && !this.scheduler.paused) {
        const body = this.framer.next();
        if (!body) break;
        this.onPacket(body);
      }
    } catch (err) {
      this.protocolError(err);
    } finally {
      this.processing = false;
    }
    if (this.inputEnded && !this.closed && !this.scheduler.paused) {
      void this.shutdown('client closed the session');
    }
  }

  private protocolError(err: unknown): void {
    this.logger.warn('sftp.bad_packet', { error: describeError(err) });
    void this.shutdown('malformed packet');
  }

  // INIT: uint32 version; every other request starts with uint32 id
  private onPacket(body: Buffer): void {
    const type = body[0] as number;
    if (!this.initialized) {
      if (type !== PacketType.INIT) throw MiniftpError.badMessage('the first packet must be INIT');
      this.initialized = true;
      this.send(this.versionPacket());
      this.roundTrip?.sent();
      return;
    }
    this.roundTrip?.heard();
    if (type === PacketType.INIT) throw MiniftpError.badMessage('INIT sent twice');
    const r = new PacketReader(body, 1);
    const id = r.u32();
    this.scheduler.submit(this.dispatcher.request(type, id, r, body));
  }

  private send(packet: Buffer): void {
    // Not `closed`: shutdown() waits for the requests still running, and their answers are sent.
    if (this.channel.destroyed || this.channel.writableEnded) {
      this.pool.release(packet);
      return;
    }
    const pooled = this.pool.owns(packet);
    // ssh2 calls back once it has copied the last byte into an SSH packet (it
    // holds the rest while the client's window is full); on an error it may
    // still hold it, so the buffer is left to the GC then.
    const written = pooled
      ? (err?: Error | null): void => {
          if (!err) this.pool.release(packet);
        }
      : undefined;
    if (!this.channel.write(packet, written)) this.scheduler.setOutputBlocked(true);
  }

  // VERSION: uint32 version, then pairs of string extension-name, string extension-data
  private versionPacket(): Buffer {
    const w = new PacketWriter(PacketType.VERSION, 512).u32(SFTP_VERSION);
    for (const [name, data] of this.extensions.advertised()) w.string(name).string(data);
    return w.finish();
  }

  /** Waits for running requests, closes every handle, ends the channel. */
  async shutdown(reason: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    this.scheduler.close();
    this.channel.pause();
    if (this.scheduler.pending > 0) await this.scheduler.whenIdle();
    this.pool.clear();
    await this.dispatcher.closeAll();
    this.logger.debug('sftp.end', { reason });
    // Not when the channel was ended for the session already (a kick: see farewell).
    if (!this.channel.destroyed && !this.channel.writableEnded) {
      // OpenSSH's server reports the subsystem's exit status; some clients log its absence.
      this.channel.exit(0);
      this.channel.end();
    }
    this.endedResolve();
  }
}
