/**
 * What one SFTP session reports and asks of operations: request timings, bytes and files for
 * the metrics, upload and download events for the hooks, resumes, quota refusals, and the user's
 * bandwidth buckets. Made by `Ops.forSession` with the user and the connection's address bound.
 */
import type { EventFields, HookDispatcher, HookEvent } from './hook-dispatcher';
import type { Metrics } from './metrics';
import type { TokenBucket } from './token-bucket';

/** A file handle as it is closed. */
export interface ClosedFile {
  /** Virtual path. */
  path: string;
  writable: boolean;
  bytesIn: number;
  bytesOut: number;
  /** Size and mtime after the last write (undefined when they could not be read). */
  size: number | undefined;
  mtimeMs: number | undefined;
}

/** Fewest milliseconds between two quota.exceeded events of one user. */
const QUOTA_EVENT_GAP_MS = 60_000;

export interface SessionOpsParts {
  user: string;
  address: string;
  metrics?: Metrics;
  hooks?: HookDispatcher;
  up: TokenBucket;
  down: TokenBucket;
  /** Last quota.exceeded event per user (shared by the sessions). */
  quotaEvents: Map<string, number>;
  emitFailed: (event: string, err: unknown) => void;
}

export class SessionOps {
  readonly user: string;
  readonly address: string;
  /** Upload and download buckets of the user on this node. */
  readonly up: TokenBucket;
  readonly down: TokenBucket;

  constructor(private readonly p: SessionOpsParts) {
    this.user = p.user;
    this.address = p.address;
    this.up = p.up;
    this.down = p.down;
  }

  /** Whether closing an upload needs its size and mtime (for the upload.completed event). */
  get wantsFileEvents(): boolean {
    return this.p.hooks?.enabled === true;
  }

  /** Observes the time until `reply` settles in the latency histogram of `type`. */
  timeRequest(type: string, reply: Promise<unknown>): void {
    const metrics = this.p.metrics;
    if (!metrics) return;
    const stop = metrics.requestSeconds.startTimer({ type });
    const done = (): void => void stop();
    reply.then(done, done);
  }

  transferred(bytesIn: number, bytesOut: number): void {
    this.p.metrics?.transferred(this.user, bytesIn, bytesOut);
  }

  /** `bytes` were read for a reply; resolves when the user's download limit lets it leave. */
  sent(bytes: number): Promise<void> | undefined {
    this.transferred(0, bytes);
    const ms = this.down.limited ? this.down.take(bytes) : 0;
    if (ms <= 0) return undefined;
    this.throttled('out', ms);
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Time a transfer was held back by the user's limit. */
  throttled(direction: 'in' | 'out', ms: number): void {
    this.p.metrics?.throttledSeconds.inc({ direction }, ms / 1000);
  }

  /**
   * A file handle was closed. For an upload, resolves once its upload.completed event is stored
   * in the outbox: the CLOSE is answered after that.
   */
  async fileClosed(f: ClosedFile): Promise<void> {
    const upload = f.writable && (f.bytesIn > 0 || f.size === 0);
    const download = !f.writable && f.bytesOut > 0;
    if (upload) this.p.metrics?.files.inc({ direction: 'in' });
    if (download) this.p.metrics?.files.inc({ direction: 'out' });
    if (upload) {
      await this.emit('upload.completed', {
        path: f.path,
        size: f.size ?? f.bytesIn,
        _mtimeMs: f.mtimeMs ?? null,
      });
    } else if (download) {
      await this.emit('download.completed', { path: f.path, bytes: f.bytesOut });
    }
  }

  /** A resume-upload@miniftp request was answered; resolves once its event is stored. */
  async resumed(path: string, offset: number, accepted: boolean): Promise<void> {
    this.p.metrics?.resumes.inc({ result: accepted ? 'accepted' : 'refused' });
    if (!accepted) return;
    await this.emit('upload.resumed', { path, offset }).catch((err: unknown) =>
      this.p.emitFailed('upload.resumed', err),
    );
  }

  /** A request was refused because the quota is full. */
  quotaRefused(message: string): void {
    this.p.metrics?.quotaRefusals.inc();
    const now = Date.now();
    const last = this.p.quotaEvents.get(this.user) ?? 0;
    if (now - last < QUOTA_EVENT_GAP_MS) return;
    this.p.quotaEvents.set(this.user, now);
    this.emit('quota.exceeded', { message }).catch((err: unknown) =>
      this.p.emitFailed('quota.exceeded', err),
    );
  }

  private async emit(event: HookEvent, fields: EventFields): Promise<void> {
    await this.p.hooks?.emit(event, { user: this.user, address: this.address, ...fields });
  }
}
