/**
 * The digests clients ask for (check-file, md5sum & co. over exec), computed
 * on a small pool of worker threads instead of the event loop.
 *
 * Work is cut into slices of at most 4 MiB. The event loop reads a slice
 * (through the VFile, so a handle being closed waits for the read, and a
 * closed handle ends the job with an error) and transfers the bytes to the
 * job's thread, which keeps the job's hash state. A thread that finishes a
 * slice takes the next one from the next user in turn: users are served
 * round-robin, one slice each, so a user hashing terabytes delays another's
 * small file by at most a slice per busy user. A user may have only so many
 * jobs admitted at once (running or waiting); more are refused.
 *
 * Each job may carry an AbortSignal (the exec channel's, the SFTP session's):
 * once it fires, a waiting job leaves the queue at once and a running one
 * stops after its current slice, so a client that goes away leaves at most one
 * slice per thread behind.
 *
 * The upload ledger's MD5 thread (src/uploads/background-md5.ts) is a different thing: it
 * follows uploads as they are written, at idle priority, reading through the
 * upload's own descriptor, which the ledger keeps open until it is done.
 * Client requests cannot promise that (a check-file-handle's handle may be
 * closed mid-way), hence the bytes are read here and handed over.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { MiniftpError } from '../errors';
import { planRange, type HashAlgorithm, type RangeDigestOptions } from './hashing';
import type { VFile } from './vfile';

/** Bytes read and hashed per turn. */
const SLICE = 4 * 1024 * 1024;

/** Most threads the automatic size picks. */
const AUTO_MAX_THREADS = 4;

export type HashWorkerRequest =
  | {
      t: 'slice';
      job: number;
      algorithm: HashAlgorithm;
      /** Transferred; the first `length` bytes are the job's next bytes. */
      data: ArrayBuffer;
      length: number;
      /** Finish the digest after these bytes (a block or the range is complete). */
      digest: boolean;
    }
  | { t: 'drop'; job: number };

export interface HashSliceReply {
  job: number;
  /** Present when the slice asked for the digest. */
  digest: Uint8Array | undefined;
  /** The slice's buffer, handed back for the next slice. */
  data?: ArrayBuffer;
  error?: string;
}

export interface HashPoolOptions {
  /** Worker threads; 0 = sized to the machine (one less than its cores, 1 to 4). */
  threads: number;
  /** Jobs one user may have admitted (running or waiting) at once. */
  maxJobsPerUser: number;
}

export interface HashJobOptions extends RangeDigestOptions {
  /** Whose share the work is charged to. */
  user: string;
  /** Aborting drops the job: waiting, at once; running, after its current slice. */
  signal?: AbortSignal;
}

export interface HashPoolStats {
  /** Jobs admitted and not finished (running a slice or waiting for a turn). */
  jobs: number;
  /** Jobs whose slice is being read or hashed right now. */
  running: number;
  /** Users with jobs. */
  users: number;
  threads: number;
}

interface Slot {
  worker: Worker | undefined;
  busy: boolean;
  /** The reply awaited for the slice this thread is hashing. */
  waiting: ((r: HashSliceReply) => void) | undefined;
  /** The slice buffer, handed back and forth with the thread. */
  buffer: ArrayBuffer | undefined;
}

interface Job {
  id: number;
  user: string;
  file: VFile;
  algorithm: HashAlgorithm;
  pos: number;
  end: number;
  blockSize: number;
  inBlock: number;
  digests: Buffer[];
  /** The thread holding this job's hash state, from its first slice on. */
  slot: Slot | undefined;
  running: boolean;
  finished: boolean;
  signal: AbortSignal | undefined;
  onAbort: () => void;
  resolve: (digests: Buffer[]) => void;
  reject: (err: unknown) => void;
}

export function autoThreads(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : 1;
  return Math.max(1, Math.min(AUTO_MAX_THREADS, cores - 1));
}

function cancelled(): MiniftpError {
  return MiniftpError.failure('the hash was cancelled: the client went away');
}

export class HashPool {
  private readonly slots: Slot[];
  private readonly maxJobsPerUser: number;
  /** Each user's jobs, oldest first; the map's order is the round-robin order. */
  private readonly queues = new Map<string, Job[]>();
  private nextId = 1;
  private closed = false;

  constructor(o: HashPoolOptions) {
    const threads = o.threads > 0 ? o.threads : autoThreads();
    this.slots = Array.from({ length: threads }, () => ({
      worker: undefined,
      busy: false,
      waiting: undefined,
      buffer: undefined,
    }));
    this.maxJobsPerUser = o.maxJobsPerUser;
  }

  get stats(): HashPoolStats {
    let jobs = 0;
    let running = 0;
    for (const q of this.queues.values()) {
      jobs += q.length;
      running += q.filter((j) => j.running).length;
    }
    return { jobs, running, users: this.queues.size, threads: this.slots.length };
  }

  /** Jobs `user` has admitted now. */
  jobsOf(user: string): number {
    return this.queues.get(user)?.length ?? 0;
  }

  /**
   * Digests of a range of `file`, one per block (or one), as digestRange
   * computes them. Refused at once: a range past the end, too many blocks,
   * too many jobs of this user, an aborted signal.
   */
  async digest(file: VFile, o: HashJobOptions): Promise<Buffer[]> {
    if (this.closed) throw MiniftpError.failure('the server is shutting down');
    if (o.signal?.aborted) throw cancelled();
    if (this.jobsOf(o.user) >= this.maxJobsPerUser) {
      throw MiniftpError.limit(
        `too many hashes at once (at most ${this.maxJobsPerUser} per user); wait for one to finish`,
      );
    }
    // Counted before the stat, so that requests arriving together are all counted.
    const job = this.admit(file, o);
    try {
      const { end } = planRange((await file.stat()).size, o);
      job.end = end;
    } catch (err) {
      this.fail(job, err);
      return job.promise;
    }
    this.pump();
    return job.promise;
  }

  private admit(file: VFile, o: HashJobOptions): Job & { promise: Promise<Buffer[]> } {
    let resolve: (d: Buffer[]) => void = () => undefined;
    let reject: (err: unknown) => void = () => undefined;
    const promise = new Promise<Buffer[]>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A job may fail (aborted) before the caller awaits it: that is not an unhandled rejection.
    promise.catch(() => undefined);
    const job: Job & { promise: Promise<Buffer[]> } = {
      id: this.nextId++,
      user: o.user,
      file,
      algorithm: o.algorithm,
      pos: o.offset,
      // Set once the file's size is known; until then the job is not run.
      end: -1,
      blockSize: o.blockSize,
      inBlock: 0,
      digests: [],
      slot: undefined,
      running: false,
      finished: false,
      signal: o.signal,
      onAbort: () => {
        if (!job.running) this.fail(job, cancelled());
      },
      resolve,
      reject,
      promise,
    };
    o.signal?.addEventListener('abort', job.onAbort, { once: true });
    const queue = this.queues.get(o.user);
    if (queue) queue.push(job);
    else this.queues.set(o.user, [job]);
    return job;
  }

  private fail(job: Job, err: unknown): void {
    if (this.remove(job)) job.reject(err);
  }

  private succeed(job: Job): void {
    if (this.remove(job)) job.resolve(job.digests);
  }

  /** Takes a job out of its user's queue; false when it had ended already. */
  private remove(job: Job): boolean {
    if (job.finished) return false;
    job.finished = true;
    job.signal?.removeEventListener('abort', job.onAbort);
    const queue = this.queues.get(job.user);
    if (queue) {
      const at = queue.indexOf(job);
      if (at !== -1) queue.splice(at, 1);
      if (queue.length === 0) this.queues.delete(job.user);
    }
    // A state left on the thread (a job ended between blocks or mid-block) is freed there.
    if (job.slot && job.inBlock > 0) {
      job.slot.worker?.postMessage({ t: 'drop', job: job.id } satisfies HashWorkerRequest);
    }
    return true;
  }

  /** Gives every free thread a slice, taking users in turn. */
  private pump(): void {
    if (this.closed) return;
    for (const slot of this.slots) {
      if (slot.busy) continue;
      const job = this.nextFor(slot);
      if (!job) continue;
      void this.turn(slot, job);
    }
  }

  /** The oldest runnable job of the first user in turn that has one for this thread. */
  private nextFor(slot: Slot): Job | undefined {
    for (const [user, queue] of this.queues) {
      const job = queue.find(
        (j) => !j.running && j.end >= 0 && (j.slot === undefined || j.slot === slot),
      );
      if (!job) continue;
      // This user has had its turn: to the back of the line.
      this.queues.delete(user);
      this.queues.set(user, queue);
      return job;
    }
    return undefined;
  }

  /** Reads one slice of `job` and has the thread hash it. */
  private async turn(slot: Slot, job: Job): Promise<void> {
    slot.busy = true;
    job.running = true;
    job.slot = slot;
    try {
      const worker = this.thread(slot);
      const want = Math.min(
        SLICE,
        job.end - job.pos,
        job.blockSize > 0 ? job.blockSize - job.inBlock : SLICE,
      );
      const buffer = slot.buffer ?? new ArrayBuffer(SLICE);
      slot.buffer = undefined;
      const n = want > 0 ? await job.file.read(job.pos, want, Buffer.from(buffer), 0) : 0;
      if (job.signal?.aborted) {
        slot.buffer = buffer;
        throw cancelled();
      }
      job.pos += n;
      job.inBlock += n;
      // The range is done, or the file ended early (it was truncated meanwhile).
      const atEnd = job.pos >= job.end || n === 0;
      const blockFull = job.blockSize > 0 && job.inBlock === job.blockSize;
      const digest =
        blockFull ||
        (atEnd && (job.blockSize === 0 || job.inBlock > 0 || job.digests.length === 0));
      if (n > 0 || digest) {
        const reply = await this.ask(slot, worker, {
          t: 'slice',
          job: job.id,
          algorithm: job.algorithm,
          data: buffer,
          length: n,
          digest,
        });
        slot.buffer = reply.data;
        if (reply.error !== undefined) throw MiniftpError.failure(`hashing failed: ${reply.error}`);
        if (digest) {
          const d = reply.digest;
          if (!d) throw MiniftpError.failure('hashing failed: no digest');
          job.digests.push(Buffer.from(d.buffer, d.byteOffset, d.byteLength));
          job.inBlock = 0;
        }
      } else {
        slot.buffer = buffer;
      }
      if (atEnd) this.succeed(job);
      else if (job.signal?.aborted) throw cancelled();
    } catch (err) {
      this.fail(job, err);
    } finally {
      job.running = false;
      slot.busy = false;
      this.pump();
    }
  }

  private ask(
    slot: Slot,
    worker: Worker,
    m: Extract<HashWorkerRequest, { t: 'slice' }>,
  ): Promise<HashSliceReply> {
    return new Promise((resolve) => {
      slot.waiting = (r) => {
        slot.waiting = undefined;
        resolve(r);
      };
      worker.postMessage(m, [m.data]);
    });
  }

  private thread(slot: Slot): Worker {
    if (slot.worker) return slot.worker;
    const w = new Worker(path.join(__dirname, 'hash-worker.js'), {
      // A small heap: the thread holds hash states; the slices arrive as transferred buffers.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    w.unref();
    w.on('message', (r: HashSliceReply) => {
      slot.waiting?.(r);
    });
    const gone = (): void => {
      if (slot.worker !== w) return;
      slot.worker = undefined;
      // The hash states of the thread are lost: its jobs fail (the next ones get a new thread).
      slot.waiting?.({ job: 0, digest: undefined, error: 'the hashing thread stopped' });
      for (const queue of [...this.queues.values()]) {
        for (const job of [...queue]) {
          if (job.slot === slot && !job.running) {
            this.fail(job, MiniftpError.failure('hashing failed: the hashing thread stopped'));
          }
        }
      }
    };
    w.on('error', gone);
    w.on('exit', gone);
    slot.worker = w;
    return w;
  }

  /** Fails every job and stops the threads. */
  async close(): Promise<void> {
    this.closed = true;
    for (const queue of [...this.queues.values()]) {
      for (const job of [...queue])
        this.fail(job, MiniftpError.failure('the server is shutting down'));
    }
    await Promise.all(
      this.slots.map(async (slot) => {
        const w = slot.worker;
        slot.worker = undefined;
        slot.waiting?.({ job: 0, digest: undefined, error: 'the server is shutting down' });
        if (w) await w.terminate();
      }),
    );
  }
}
