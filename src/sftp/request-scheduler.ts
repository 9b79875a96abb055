/**
 * When an SFTP session's requests run and in which order their replies leave,
 * and when the session must stop reading its channel. It knows nothing of
 * sockets: the session gives it `send`, `pause` and `resume`.
 *
 * - Reply order: replies leave in the order the requests came, though the
 *   requests run at once. paramiko (SFTPFile with set_pipelined, which put()
 *   turns on) pairs the STATUS replies to its WRITEs in the order it sent them
 *   and waits forever for one that overtook another; OpenSSH's sftp-server,
 *   one request at a time, and Go's pkg/sftp server answer in order too.
 * - Barriers: a request that changes something waits until every request
 *   before it has been answered, and the requests after it wait for it (see
 *   `waitsForEarlier`).
 * - Flow control: while too many requests, or too many bytes of WRITE data and
 *   READ replies, are pending, or the channel's output is full, the session is
 *   paused.
 */
import { PacketReader } from './codec';
import { Ext, OpenFlag, PacketType } from './constants';

/** Extensions that only look things up: like STAT, they need not wait for what came before. */
const LOOKUP_EXTENSIONS: ReadonlySet<string> = new Set([
  Ext.STATVFS,
  Ext.FSTATVFS,
  Ext.LIMITS,
  Ext.EXPAND_PATH,
  Ext.HOME_DIRECTORY,
  Ext.USERS_GROUPS_BY_ID,
]);

/**
 * Whether a request must wait until every request before it has been
 * answered: requests that change names, attributes or contents, and those
 * that read what earlier writes left (fsync, check-file). The rest (READ,
 * WRITE, STAT, OPENDIR…) run at once, after the last such request only.
 * Clients pipeline dependent requests: lftp's `mkdir -p a/b/c` sends the
 * three MKDIRs without waiting, as OpenSSH's sftp-server, which runs one
 * request at a time, allows. `body` is the packet from its type byte on.
 */
export function waitsForEarlier(type: number, body: Buffer): boolean {
  switch (type) {
    case PacketType.MKDIR:
    case PacketType.RMDIR:
    case PacketType.REMOVE:
    case PacketType.RENAME:
    case PacketType.SYMLINK:
    case PacketType.SETSTAT:
    case PacketType.FSETSTAT:
      return true;
    case PacketType.OPEN:
    case PacketType.EXTENDED: {
      try {
        const r = new PacketReader(body, 5);
        const name = r.string();
        if (type === PacketType.EXTENDED) return !LOOKUP_EXTENSIONS.has(name);
        const changing = OpenFlag.WRITE | OpenFlag.APPEND | OpenFlag.CREAT | OpenFlag.TRUNC;
        return (r.u32() & changing) !== 0;
      } catch {
        // Malformed: it fails when parsed, in its turn.
        return true;
      }
    }
    default:
      return false;
  }
}

/** One request as the scheduler sees it. */
export interface ScheduledRequest {
  /** It waits for every request before it, and those after it wait for it. */
  readonly barrier: boolean;
  /** Memory it holds until answered (a WRITE's data, a READ's reply), counted against `maxDataBytes`. */
  readonly dataBytes: number;
  /** Does the work; the reply packet, or throws / rejects with the error to answer. */
  run(): Promise<Buffer>;
  /** The reply for an error `run` threw. */
  fail(err: unknown): Buffer;
  /** The reply when even `fail` threw. */
  internalError(): Buffer;
  /** Its reply has left (or could not): what it holds can be given back. Before flow is updated. */
  sent(): void;
  /** Called last, once the scheduler has counted it answered. */
  settled(): void;
}

export interface SchedulerLimits {
  /** Requests pending at once before the session pauses. */
  readonly maxPending: number;
  /** Bytes of `dataBytes` pending at once before the session pauses. */
  readonly maxDataBytes: number;
}

export interface SchedulerIo {
  /** Sends one reply; called in request order. */
  send(packet: Buffer): void;
  /** Stop reading requests. */
  pause(): void;
  /** Read requests again. */
  resume(): void;
}

/** A request's place in the reply order. */
interface ReplySlot {
  readonly request: ScheduledRequest;
  packet: Buffer | undefined;
  /** A barrier waiting to reach the head of the order before it runs. */
  start: (() => void) | undefined;
}

const noop = (): void => undefined;

export class RequestScheduler {
  private pendingCount = 0;
  private pendingDataBytes = 0;
  private outputBlocked = false;
  private isPaused = false;
  private closed = false;
  private idle: Array<() => void> = [];
  private readonly replyOrder: ReplySlot[] = [];
  /** Settles when the last barrier has been answered. */
  private lastBarrier: Promise<void> | undefined;

  constructor(
    private readonly limits: SchedulerLimits,
    private readonly io: SchedulerIo,
  ) {}

  /** True while requests should not be read. */
  get paused(): boolean {
    return this.isPaused;
  }

  /** Requests submitted and not yet answered. */
  get pending(): number {
    return this.pendingCount;
  }

  /** Takes a request in: it runs now, or when the barrier it waits for is answered. */
  submit(request: ScheduledRequest): void {
    this.pendingCount++;
    this.pendingDataBytes += request.dataBytes;
    this.updateFlow();
    const slot: ReplySlot = { request, packet: undefined, start: undefined };
    this.replyOrder.push(slot);
    let reply: Promise<Buffer>;
    if (request.barrier) {
      reply =
        this.replyOrder[0] === slot
          ? run(request)
          : new Promise<Buffer>((resolve) => (slot.start = () => resolve(run(request))));
      const done = reply.then(noop, noop);
      this.lastBarrier = done;
      void done.then(() => {
        if (this.lastBarrier === done) this.lastBarrier = undefined;
      });
    } else {
      reply = this.lastBarrier ? this.lastBarrier.then(() => run(request)) : run(request);
    }
    reply
      .catch((err: unknown) => request.fail(err))
      .catch(() => request.internalError())
      .then((packet) => {
        slot.packet = packet;
        this.sendReplies();
      })
      .catch(noop);
  }

  /** The channel's output is full (true) or has drained (false). */
  setOutputBlocked(blocked: boolean): void {
    this.outputBlocked = blocked;
    this.updateFlow();
  }

  /** Never resume again: the session is ending. */
  close(): void {
    this.closed = true;
  }

  /** Resolves once no request is pending. */
  whenIdle(): Promise<void> {
    if (this.pendingCount === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idle.push(resolve));
  }

  /** Sends the replies at the head of the order that are ready. */
  private sendReplies(): void {
    for (let head = this.replyOrder[0]; head?.packet; head = this.replyOrder[0]) {
      this.replyOrder.shift();
      try {
        this.io.send(head.packet);
      } finally {
        this.answered(head.request);
      }
    }
    // Everything before the new head is answered: a request waiting for that runs now.
    const next = this.replyOrder[0];
    if (next?.start) {
      const start = next.start;
      next.start = undefined;
      start();
    }
  }

  private answered(request: ScheduledRequest): void {
    this.pendingCount--;
    this.pendingDataBytes -= request.dataBytes;
    request.sent();
    this.updateFlow();
    if (this.pendingCount === 0) for (const resolve of this.idle.splice(0)) resolve();
    request.settled();
  }

  private updateFlow(): void {
    const shouldPause =
      this.pendingCount >= this.limits.maxPending ||
      this.pendingDataBytes >= this.limits.maxDataBytes ||
      this.outputBlocked;
    if (shouldPause && !this.isPaused) {
      this.isPaused = true;
      this.io.pause();
    } else if (!shouldPause && this.isPaused && !this.closed) {
      this.isPaused = false;
      this.io.resume();
    }
  }
}

/** A request's `run`, its synchronous throws turned into a rejection. */
function run(request: ScheduledRequest): Promise<Buffer> {
  try {
    return request.run();
  } catch (err) {
    return Promise.reject(err);
  }
}
