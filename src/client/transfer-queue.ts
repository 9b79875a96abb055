/**
 * The session's transfers: queued, run one after another through the engine,
 * observable by the screen (progress bars) and by batch mode (progress lines).
 */
import { EventEmitter } from 'node:events';
import { ConnectionLostError, ResumeMismatchError, TransferAbortedError } from './errors';
import { formatBytes } from './format';
import type { RateLimiter } from './rate-limit';
import type { SftpChannel } from './sftp-channel';
import {
  download,
  upload,
  type TransferOptions,
  type TransferProgress,
  type TransferResult,
} from './transfer';

export type Direction = 'put' | 'get';
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface TransferRequest {
  direction: Direction;
  localPath: string;
  remotePath: string;
  /** Start over when a resume is refused, without asking (`put -f`). */
  force: boolean;
}

export interface TransferJob extends TransferRequest {
  readonly id: number;
  /** What the user calls it: the file name. */
  readonly label: string;
  state: JobState;
  progress: TransferProgress | undefined;
  result: TransferResult | undefined;
  error: Error | undefined;
  /** Set when a refused resume was answered by starting over. */
  restarted: string | undefined;
  /** Settles when the job ends; rejects with its error (never unhandled: see enqueue). */
  readonly done: Promise<TransferResult>;
}

export interface TransferQueueOptions {
  sftp: SftpChannel;
  limiter?: RateLimiter;
  progressIntervalMs?: number;
}

interface QueueEvents {
  change: [TransferJob];
}

export class TransferQueue extends EventEmitter<QueueEvents> {
  private readonly all: TransferJob[] = [];
  private readonly waiting: TransferJob[] = [];
  private readonly settle = new Map<
    number,
    { resolve: (r: TransferResult) => void; reject: (e: Error) => void }
  >();
  private running: { job: TransferJob; abort: AbortController } | undefined;
  private nextId = 1;
  private idleWaiters: Array<() => void> = [];
  /**
   * Asked when a resume is refused for a job not forced: true starts over
   * (replacing the destination), false fails the job with the refusal. The
   * screen sets a dialog here; by default the refusal stands.
   */
  onResumeRefused: (job: TransferJob, err: ResumeMismatchError) => Promise<boolean> = async () =>
    false;
  /**
   * Asked when the connection is lost during a job: a new channel runs the
   * job again (resuming by the MD5 rule) and the rest of the queue after it;
   * undefined (the default) or a throw fails the job.
   */
  onConnectionLost: (job: TransferJob) => Promise<SftpChannel | undefined> = async () => undefined;

  constructor(private readonly o: TransferQueueOptions) {
    super();
  }

  enqueue(request: TransferRequest): TransferJob {
    let resolve!: (r: TransferResult) => void;
    let reject!: (e: Error) => void;
    const done = new Promise<TransferResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Callers that do not wait on `done` learn the outcome from 'change'.
    done.catch(() => undefined);
    const path = request.direction === 'put' ? request.localPath : request.remotePath;
    const job: TransferJob = {
      ...request,
      id: this.nextId++,
      label: path.split(/[\\/]/).pop() || path,
      state: 'queued',
      progress: undefined,
      result: undefined,
      error: undefined,
      restarted: undefined,
      done,
    };
    this.settle.set(job.id, { resolve, reject });
    this.all.push(job);
    this.waiting.push(job);
    this.emit('change', job);
    this.pump();
    return job;
  }

  /** The channel the next requests go to (after a reconnection). */
  setChannel(sftp: SftpChannel): void {
    this.o.sftp = sftp;
  }

  /** Every job of the session, oldest first. */
  jobs(): readonly TransferJob[] {
    return this.all;
  }

  /** Jobs queued or running. */
  pending(): number {
    return this.waiting.length + (this.running ? 1 : 0);
  }

  /** Cancels every queued and running job. */
  cancelAll(): void {
    for (const job of this.waiting.splice(0)) this.finish(job, new TransferAbortedError());
    this.running?.abort.abort();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.pending() === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    if (this.running) return;
    const job = this.waiting.shift();
    if (!job) {
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    const abort = new AbortController();
    this.running = { job, abort };
    job.state = 'running';
    this.emit('change', job);
    void this.run(job, abort.signal).then(
      (result) => this.finish(job, undefined, result),
      (err: unknown) => this.finish(job, err instanceof Error ? err : new Error(String(err))),
    );
  }

  private async run(job: TransferJob, signal: AbortSignal): Promise<TransferResult> {
    const limiter = this.o.limiter;
    const options: TransferOptions = {
      signal,
      progressIntervalMs: this.o.progressIntervalMs,
      throttle: limiter ? (bytes) => limiter.take(bytes) : undefined,
      onProgress: (p) => {
        job.progress = p;
        this.emit('change', job);
      },
    };
    const go = (resume: 'auto' | 'never'): Promise<TransferResult> =>
      job.direction === 'put'
        ? upload(this.o.sftp, job.localPath, job.remotePath, { ...options, resume })
        : download(this.o.sftp, job.remotePath, job.localPath, { ...options, resume });
    for (;;) {
      try {
        return await this.attempt(job, go);
      } catch (err) {
        if (!(err instanceof ConnectionLostError) || signal.aborted) throw err;
        const sftp = await this.onConnectionLost(job);
        if (!sftp) throw err;
        this.setChannel(sftp);
      }
    }
  }

  private async attempt(
    job: TransferJob,
    go: (resume: 'auto' | 'never') => Promise<TransferResult>,
  ): Promise<TransferResult> {
    try {
      return await go('auto');
    } catch (err) {
      if (!(err instanceof ResumeMismatchError)) throw err;
      const again = job.force || (await this.onResumeRefused(job, err));
      if (!again) throw err;
      job.restarted = err.message;
      this.emit('change', job);
      return go('never');
    }
  }

  private finish(job: TransferJob, error: Error | undefined, result?: TransferResult): void {
    if (error) {
      job.state = error instanceof TransferAbortedError ? 'cancelled' : 'failed';
      job.error = error;
      this.settle.get(job.id)?.reject(error);
    } else if (result) {
      job.state = 'done';
      job.result = result;
      this.settle.get(job.id)?.resolve(result);
    }
    this.settle.delete(job.id);
    if (this.running?.job === job) this.running = undefined;
    this.emit('change', job);
    this.pump();
  }
}

/** One line on how a finished job went, for the log and batch output. */
export function describeOutcome(job: TransferJob, withMd5 = true): string {
  const name = `${job.direction} ${job.label}`;
  if (job.state === 'cancelled') return `${name}: cancelled`;
  if (job.state === 'failed') return `${name}: failed: ${job.error?.message ?? 'unknown error'}`;
  const r = job.result;
  if (!r) return `${name}: ${job.state}`;
  const parts: string[] = [];
  if (r.bytesSent === 0 && r.resumedFrom === r.total && r.total > 0) {
    parts.push('already complete (same MD5), nothing sent');
  } else {
    const verb = job.direction === 'put' ? 'sent' : 'received';
    parts.push(`${verb} ${r.bytesSent} bytes (${formatBytes(r.bytesSent)})`);
    if (r.resumedFrom > 0) parts.push(`resumed from ${r.resumedFrom}`);
  }
  if (job.restarted) parts.push('started over after a refused resume');
  parts.push(
    r.verified
      ? `MD5 verified${withMd5 ? ` ${r.md5}` : ''}`
      : 'not verified (the server has no check-file)',
  );
  return `${name}: done, ${parts.join(', ')}`;
}
