/**
 * The session's transfers: queued, run through the engine (one at a time, or
 * `parallel` at once), observable by the screen (progress bars) and by batch
 * mode (progress lines). The queue can be paused, and any job cancelled.
 */
import { EventEmitter } from 'node:events';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import {
  ClientError,
  ConnectionLostError,
  DestinationExistsError,
  ResumeMismatchError,
  TransferAbortedError,
} from './errors';
import { formatBytes } from './format';
import type { RateLimiter } from './rate-limit';
import { checkUploadRoom } from './remote-room';
import type { SftpChannel } from './sftp-channel';
import {
  download,
  upload,
  type TransferOptions,
  type TransferProgress,
  type TransferResult,
} from './transfer';

export type Direction = 'put' | 'get';
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'skipped';

/** What to do when the destination holds another file: the screen asks, batch mode overwrites. */
export type ExistsChoice = 'overwrite' | 'resume' | 'skip' | 'rename';

/** The question onExists answers. */
export interface ExistsQuestion {
  /** What is at the destination, or why continuing it was refused. */
  reason: string;
  /**
   * Whether 'resume' may be answered: false once the MD5-prefix rule has
   * refused this destination (its start is not the source's, or it is not shorter).
   */
  resume: boolean;
}

export interface TransferRequest {
  direction: Direction;
  localPath: string;
  remotePath: string;
  /** Start over when a resume is refused, without asking (`put -f`). */
  force: boolean;
  /** What the screen calls the job when its source is a scratch copy (an edited file). */
  shownAs?: string;
  /**
   * The source's size when the planner of a folder's transfer (put or get of
   * a folder, mirror) knew it: a file of at most SMALL_FILE bytes then runs
   * beside the others (see SMALL_AT_ONCE).
   */
  size?: number;
}

/** A file of a folder's transfer this small is mostly round trips, not bytes. */
export const SMALL_FILE = 1024 * 1024;
/**
 * Small files of a folder's transfer run this many at once, besides the
 * `parallel` others: each costs a few round trips (stat, open, write, close,
 * check-file) and little memory, so over a long link their requests are kept
 * in flight together instead of one file's after another's.
 */
export const SMALL_AT_ONCE = 64;

function isSmall(job: TransferRequest): boolean {
  return job.size !== undefined && job.size <= SMALL_FILE;
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
  /** Set when the user chose another name for the destination. */
  renamedTo: string | undefined;
  /** Settles when the job ends; rejects with its error (never unhandled: see enqueue). */
  readonly done: Promise<TransferResult>;
}

/** Runs the job's transfer once, with these resume and overwrite settings. */
type Go = (resume: 'auto' | 'never' | 'ask', overwrite?: boolean) => Promise<TransferResult>;

export interface TransferQueueOptions {
  sftp: SftpChannel;
  limiter?: RateLimiter;
  progressIntervalMs?: number;
  /** Transfers run at once (default 1). */
  parallel?: number;
  /** Sessions a large download is spread over (default 1: see TransferOptions.segments). */
  segments?: number;
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
  private readonly running = new Map<number, { job: TransferJob; abort: AbortController }>();
  /** Of `running`, the small files of folders' transfers. */
  private runningSmall = 0;
  private nextId = 1;
  /** While paused no queued job starts; running ones go on. */
  paused = false;
  /** Transfers run at once. */
  parallel: number;
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

  /**
   * Asked when a job's destination holds a file that is not the source's
   * copy: overwrite it, resume it (the MD5-prefix rule decides; refused, the
   * question comes again without resume), skip, or rename. Set, this also
   * answers a refused resume (onResumeRefused is not asked). Unset, the file
   * is replaced and a shorter one continued when its start is proven.
   */
  onExists: ((job: TransferJob, question: ExistsQuestion) => Promise<ExistsChoice>) | undefined;

  /**
   * Before an upload starts, check the server's free room (when it reports
   * it) and refuse what cannot fit. The screen turns this on; batch mode
   * leaves the refusal to the server.
   */
  checkRoom = false;

  constructor(private readonly o: TransferQueueOptions) {
    super();
    this.parallel = Math.max(1, o.parallel ?? 1);
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
    const source = request.direction === 'put' ? request.localPath : request.remotePath;
    const job: TransferJob = {
      ...request,
      id: this.nextId++,
      label: source.split(/[\\/]/).pop() || source,
      state: 'queued',
      progress: undefined,
      result: undefined,
      error: undefined,
      restarted: undefined,
      renamedTo: undefined,
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
    return this.waiting.length + this.running.size;
  }

  /** Cancels every queued and running job. */
  cancelAll(): void {
    for (const job of this.waiting.splice(0)) this.finish(job, new TransferAbortedError());
    for (const r of this.running.values()) r.abort.abort();
  }

  /** Cancels one queued or running job; false when it has ended already. */
  cancel(id: number): boolean {
    const i = this.waiting.findIndex((j) => j.id === id);
    if (i >= 0) {
      const [job] = this.waiting.splice(i, 1);
      if (job) this.finish(job, new TransferAbortedError());
      return true;
    }
    const r = this.running.get(id);
    r?.abort.abort();
    return r !== undefined;
  }

  /** Pauses or resumes the start of queued jobs. */
  setPaused(paused: boolean): void {
    this.paused = paused;
    this.pump();
  }

  /** Sets how many jobs run at once (from 1). */
  setParallel(n: number): void {
    this.parallel = Math.max(1, Math.floor(n));
    this.pump();
  }

  /** Forgets ended jobs (the screen's "dismiss"); returns how many. */
  forgetEnded(): number {
    const before = this.all.length;
    const kept = this.all.filter((j) => j.state === 'queued' || j.state === 'running');
    this.all.splice(0, this.all.length, ...kept);
    return before - kept.length;
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.pending() === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (!this.paused) {
      const next = this.waiting[0];
      if (!next) break;
      const small = isSmall(next);
      const full = small
        ? this.runningSmall >= SMALL_AT_ONCE
        : this.running.size - this.runningSmall >= this.parallel;
      if (full) break;
      const job = this.waiting.shift() as TransferJob;
      if (small) this.runningSmall++;
      const abort = new AbortController();
      this.running.set(job.id, { job, abort });
      job.state = 'running';
      this.emit('change', job);
      void this.run(job, abort.signal).then(
        (result) => this.finish(job, undefined, result),
        (err: unknown) => this.finish(job, err instanceof Error ? err : new Error(String(err))),
      );
    }
    if (this.pending() === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** A free name beside `p`: "name (2).ext", "name (3).ext", … */
  private async freeName(job: TransferJob): Promise<string> {
    const put = job.direction === 'put';
    const p = put ? job.remotePath : job.localPath;
    const lib = put ? path.posix : path;
    const ext = lib.extname(p);
    const stem = p.slice(0, p.length - ext.length);
    const exists = (q: string): Promise<boolean> =>
      put
        ? this.o.sftp.stat(q).then(
            () => true,
            () => false,
          )
        : fsp.stat(q).then(
            () => true,
            () => false,
          );
    for (let n = 2; ; n++) {
      const candidate = `${stem} (${n})${ext}`;
      if (!(await exists(candidate))) return candidate;
    }
  }

  private async run(job: TransferJob, signal: AbortSignal): Promise<TransferResult> {
    const limiter = this.o.limiter;
    const options: TransferOptions = {
      signal,
      segments: this.o.segments,
      progressIntervalMs: this.o.progressIntervalMs,
      throttle: limiter ? (bytes) => limiter.take(bytes) : undefined,
      onProgress: (p) => {
        job.progress = p;
        this.emit('change', job);
      },
    };
    const ask = this.onExists && !job.force;
    const go: Go = (resume, overwrite = !ask) =>
      job.direction === 'put'
        ? upload(this.o.sftp, job.localPath, job.remotePath, { ...options, resume, overwrite })
        : download(this.o.sftp, job.remotePath, job.localPath, {
            ...options,
            resume,
            overwrite,
          });
    // Only the first try asks about a shorter destination; after a lost
    // connection the partial file is this job's own and is continued.
    for (let first = true; ; first = false) {
      try {
        if (job.direction === 'put' && this.checkRoom) {
          await checkUploadRoom(this.o.sftp, job.localPath, job.remotePath);
        }
        return await this.attempt(job, go, first);
      } catch (err) {
        if (!(err instanceof ConnectionLostError) || signal.aborted) throw err;
        const sftp = await this.onConnectionLost(job);
        if (!sftp) throw err;
        this.setChannel(sftp);
      }
    }
  }

  private async attempt(job: TransferJob, go: Go, first: boolean): Promise<TransferResult> {
    const ask = this.onExists !== undefined && !job.force;
    try {
      return await go(ask && first ? 'ask' : 'auto');
    } catch (err) {
      if (ask && (err instanceof DestinationExistsError || err instanceof ResumeMismatchError)) {
        return this.settleExisting(job, go, err);
      }
      if (!(err instanceof ResumeMismatchError)) throw err;
      const again = job.force || (await this.onResumeRefused(job, err));
      if (!again) throw err;
      job.restarted = err.message;
      this.emit('change', job);
      return go('never', true);
    }
  }

  /** Asks onExists what to do with the file at the destination, until an answer works. */
  private async settleExisting(
    job: TransferJob,
    go: Go,
    first: DestinationExistsError | ResumeMismatchError,
  ): Promise<TransferResult> {
    let refused = first instanceof ResumeMismatchError ? first : undefined;
    let question: ExistsQuestion = { reason: first.message, resume: refused === undefined };
    for (;;) {
      const choice = this.onExists ? await this.onExists(job, question) : 'skip';
      if (choice === 'skip' || (choice === 'resume' && !question.resume)) {
        throw new SkippedError();
      }
      if (choice === 'rename') {
        const to = await this.freeName(job);
        if (job.direction === 'put') job.remotePath = to;
        else job.localPath = to;
        job.renamedTo = to;
        this.emit('change', job);
        return go('auto', false);
      }
      if (choice === 'overwrite') {
        if (refused) {
          job.restarted = refused.message;
          this.emit('change', job);
        }
        return go('never', true);
      }
      try {
        return await go('auto', false);
      } catch (err) {
        if (err instanceof ResumeMismatchError) refused = err;
        else if (err instanceof DestinationExistsError && !err.shorter) {
          refused = new ResumeMismatchError(
            `resume refused: ${err.message}; only a shorter file whose start is proven by MD5 ` +
              'can be continued',
            0,
          );
        } else throw err;
        question = { reason: refused.message, resume: false };
      }
    }
  }

  private finish(job: TransferJob, error: Error | undefined, result?: TransferResult): void {
    if (error) {
      job.state =
        error instanceof TransferAbortedError
          ? 'cancelled'
          : error instanceof SkippedError
            ? 'skipped'
            : 'failed';
      job.error = error;
      this.settle.get(job.id)?.reject(error);
    } else if (result) {
      job.state = 'done';
      job.result = result;
      this.settle.get(job.id)?.resolve(result);
    }
    this.settle.delete(job.id);
    if (this.running.delete(job.id) && isSmall(job)) this.runningSmall--;
    this.emit('change', job);
    this.pump();
  }
}

/** The user chose to keep the destination as it is. */
export class SkippedError extends ClientError {
  constructor() {
    super('skipped: the destination was kept');
  }
}

/** One line on how a finished job went, for the log and batch output. */
export function describeOutcome(job: TransferJob, withMd5 = true): string {
  const name = `${job.direction} ${job.label}`;
  if (job.state === 'cancelled') return `${name}: cancelled`;
  if (job.state === 'skipped') return `${name}: skipped, the destination was kept`;
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
