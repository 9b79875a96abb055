/**
 * MD5 of uploads on a second thread, so the event loop that decrypts and
 * writes the incoming data does not also spend about 1.4 s of CPU per GiB
 * hashing it.
 *
 * The thread runs at idle priority (SCHED_IDLE, see thread-priority.ts)
 * while nobody waits for it: with spare cores it keeps up with the uploads,
 * and on a busy machine it takes only the CPU the transfers leave, catching
 * up afterwards. While someone waits for a digest (a dropped upload being
 * closed, a resume or check-file request), it runs at normal priority.
 *
 * Idle priority is not enough when the cores are contended: the thread still
 * hashes in every brief idle moment, sharing caches, memory bandwidth and
 * possibly a physical core with the transfers. So while the event loop itself
 * waits for a CPU (loop-contention.ts), new work is held back here and sent
 * once the contention ends, or at once when someone waits for a digest.
 *
 * Nothing is copied to the thread: the main thread reports how far a file is
 * written contiguously from offset 0, and the thread reads those bytes back
 * from the page cache through the same descriptor. The descriptor must stay
 * open until `finish` or `drop` has answered: the answer comes only after the
 * thread has handled every earlier message, so from then on it will not read
 * the descriptor again, and the caller may close it.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { LoopContention, type LoopContentionOptions } from './loop-contention';
import { ThreadPriority, type ThreadPriorityOptions } from './thread-priority';

/** A saved MD5 state (hash-wasm's) and the bytes from offset 0 it has taken in. */
export interface Md5State {
  bytes: number;
  state: Uint8Array;
}

export type Md5Request =
  | {
      t: 'open';
      id: number;
      fd: number;
      to: number;
      /** Send a checkpoint each time the digest passes a multiple of this many bytes. */
      every?: number;
      /** Go on from this state instead of from offset 0. */
      from?: Md5State;
    }
  | { t: 'extend'; id: number; to: number }
  | { t: 'finish'; id: number }
  | { t: 'drop'; id: number };

/** The thread's first message: its kernel thread id, for setpriority(). */
export interface Md5Hello {
  tid: number;
}

/** The state of a stream's digest at a multiple of its `every`, sent as the thread passes it. */
export interface Md5Checkpoint extends Md5State {
  t: 'checkpoint';
  id: number;
}

/** How a stream keeps checkpoints (see BackgroundMd5.open). */
export interface CheckpointOptions {
  every: number;
  from?: Md5State;
  onCheckpoint: (c: Md5State) => void;
}

export interface Md5Reply {
  id: number;
  /** Undefined when the stream was dropped or could not read its bytes. */
  md5: string | undefined;
  /** Bytes the digest covers. */
  bytes: number;
}

export interface BackgroundMd5Options extends ThreadPriorityOptions {
  /** How contention of the event loop is sampled (tests replace the counter). */
  contention?: Omit<LoopContentionOptions, 'onChange'>;
  /**
   * Keep up with the uploads at normal priority, never held back: with a shared store the
   * checkpoints are what a resume on another node starts from, so they must not lag.
   */
  keepUp?: boolean;
}

/** One hashing thread for all uploads of the server, started on first use. */
export class BackgroundMd5 {
  private readonly contention: LoopContention;

  constructor(private readonly options: BackgroundMd5Options = {}) {
    this.contention = new LoopContention({
      ...options.contention,
      onChange: () => this.release(),
    });
  }

  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, (r: Md5Reply) => void>();
  private closed = false;
  private priority: ThreadPriority | undefined;
  /** Digests being waited for; the thread runs at normal priority while there are any. */
  private urgent = 0;
  /** Streams opened and not yet finished or dropped. */
  private readonly streams = new Set<number>();
  /** Held back while the event loop is contended: the latest `to` per stream, and finishes. */
  private readonly heldExtends = new Map<number, number>();
  private readonly heldFinishes: number[] = [];
  /** Streams that keep checkpoints: where each goes. */
  private readonly checkpoints = new Map<number, (c: Md5State) => void>();

  /** True while new work waits here instead of going to the thread. */
  get holding(): boolean {
    return this.options.keepUp !== true && this.contention.contended && this.urgent === 0;
  }

  /**
   * Starts hashing the file on `fd` from offset 0 (or from `checkpoints.from`), with `to` bytes
   * already written; undefined if the thread is unavailable. With `checkpoints`, the digest's
   * state is handed to `onCheckpoint` every `every` bytes.
   */
  open(fd: number, to: number, checkpoints?: CheckpointOptions): number | undefined {
    const w = this.thread();
    if (!w) return undefined;
    const id = this.nextId++;
    this.streams.add(id);
    if (checkpoints) this.checkpoints.set(id, checkpoints.onCheckpoint);
    this.contention.start();
    const extra = checkpoints ? { every: checkpoints.every, from: checkpoints.from } : {};
    if (this.holding) {
      w.postMessage({ t: 'open', id, fd, to: 0, ...extra } satisfies Md5Request);
      this.heldExtends.set(id, to);
    } else {
      w.postMessage({ t: 'open', id, fd, to, ...extra } satisfies Md5Request);
    }
    return id;
  }

  /** The file is now written contiguously from 0 up to `to`. */
  extend(id: number, to: number): void {
    if (this.holding) this.heldExtends.set(id, to);
    else this.worker?.postMessage({ t: 'extend', id, to } satisfies Md5Request);
  }

  /**
   * The digest of everything reported; after it resolves the thread no longer
   * reads the descriptor. `urgent`: someone is waiting, so the thread runs at
   * normal priority until then (and so finishes whatever was queued before).
   * Otherwise, while the event loop is contended, the request waits here.
   */
  finish(id: number, urgent: boolean): Promise<Md5Reply> {
    if (urgent) {
      // Urgent first: that sends anything held back for this stream before its finish.
      this.setUrgent(+1);
      const reply = this.ask({ t: 'finish', id });
      return reply.finally(() => this.setUrgent(-1));
    }
    if (!this.holding || !this.worker) return this.ask({ t: 'finish', id });
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.heldFinishes.push(id);
    });
  }

  /** Sends what was held back, unless the thread should still be left alone. */
  private release(): void {
    if (this.holding) return;
    const w = this.worker;
    if (w) {
      // Every stream's bytes before any finish: a finish must come after its stream's last extend.
      for (const [id, to] of this.heldExtends)
        w.postMessage({ t: 'extend', id, to } satisfies Md5Request);
      for (const id of this.heldFinishes) w.postMessage({ t: 'finish', id } satisfies Md5Request);
    }
    this.heldExtends.clear();
    this.heldFinishes.length = 0;
  }

  /** A stream ended: sampling stops with the last one. */
  private ended(id: number): void {
    this.streams.delete(id);
    if (this.streams.size === 0) this.contention.stop();
  }

  /** Runs the thread at normal priority until `work` settles. */
  async hurry<T>(work: Promise<T>): Promise<T> {
    this.setUrgent(+1);
    try {
      return await work;
    } finally {
      this.setUrgent(-1);
    }
  }

  private setUrgent(delta: number): void {
    const before = this.urgent > 0;
    this.urgent += delta;
    if (before !== this.urgent > 0) {
      this.applyPriority();
      this.release();
    }
  }

  private applyPriority(): void {
    this.priority?.set(this.urgent > 0 || this.options.keepUp === true ? 'normal' : 'idle');
  }

  /** Resolves once the thread's priority is what it should be now (for tests). */
  async prioritySettled(): Promise<void> {
    await this.priority?.settled();
  }

  /** Forgets the stream; after it resolves the thread no longer reads the descriptor. */
  async drop(id: number): Promise<void> {
    this.heldExtends.delete(id);
    await this.ask({ t: 'drop', id });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.contention.stop();
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
    this.failAll();
  }

  private ask(m: Extract<Md5Request, { t: 'finish' | 'drop' }>): Promise<Md5Reply> {
    const w = this.worker;
    if (!w) return Promise.resolve({ id: m.id, md5: undefined, bytes: 0 });
    return new Promise((resolve) => {
      this.waiting.set(m.id, resolve);
      w.postMessage(m);
    });
  }

  private thread(): Worker | undefined {
    if (this.worker || this.closed) return this.worker;
    let w: Worker;
    try {
      w = new Worker(path.join(__dirname, 'md5-worker.js'), {
        // A small heap: the thread holds one 256 KiB buffer and the hash states.
        resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
      });
    } catch {
      return undefined;
    }
    w.unref();
    w.on('message', (r: Md5Reply | Md5Hello | Md5Checkpoint) => {
      if ('tid' in r) {
        this.priority = new ThreadPriority(r.tid, this.options);
        this.applyPriority();
        return;
      }
      if ('t' in r) {
        this.checkpoints.get(r.id)?.({ bytes: r.bytes, state: r.state });
        return;
      }
      this.checkpoints.delete(r.id);
      const resolve = this.waiting.get(r.id);
      this.waiting.delete(r.id);
      this.ended(r.id);
      resolve?.(r);
    });
    const gone = (): void => {
      // A thread that died reads nothing more: every stream ends without a digest.
      if (this.worker === w) {
        this.worker = undefined;
        this.priority = undefined;
      }
      this.failAll();
    };
    w.on('error', gone);
    w.on('exit', gone);
    this.worker = w;
    return w;
  }

  private failAll(): void {
    for (const [id, resolve] of this.waiting) resolve({ id, md5: undefined, bytes: 0 });
    this.waiting.clear();
    this.heldExtends.clear();
    this.heldFinishes.length = 0;
    this.streams.clear();
    this.checkpoints.clear();
    this.contention.stop();
  }
}
