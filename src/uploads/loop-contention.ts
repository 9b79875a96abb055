/**
 * Whether the event loop has lately had to wait for a CPU: the share of each
 * interval its thread spent runnable but not running, from the kernel's
 * scheduler statistics (/proc/thread-self/schedstat, read on the event loop's
 * own thread). Where that file is missing (not Linux, no schedstats) the loop
 * never counts as contended.
 */
import * as fs from 'node:fs';

/** Nanoseconds the calling thread has waited on a run queue so far, or undefined. */
export function readOwnWaitNs(): number | undefined {
  try {
    const fields = fs.readFileSync('/proc/thread-self/schedstat', 'latin1').trim().split(/\s+/);
    const wait = Number(fields[1]);
    return Number.isFinite(wait) ? wait : undefined;
  } catch {
    return undefined;
  }
}

export interface LoopContentionOptions {
  /** How often to sample (default 100 ms). */
  intervalMs?: number;
  /** The share of an interval spent waiting from which the loop counts as contended (default 0.1). */
  threshold?: number;
  /** The wait counter (tests replace it). */
  readWaitNs?: () => number | undefined;
  /** Wall clock in nanoseconds (tests replace it). */
  nowNs?: () => number;
  onChange(contended: boolean): void;
}

export class LoopContention {
  private timer: NodeJS.Timeout | undefined;
  private lastWait = 0;
  private lastAt = 0;
  private state = false;
  private readonly intervalMs: number;
  private readonly threshold: number;
  private readonly readWaitNs: () => number | undefined;
  private readonly nowNs: () => number;

  constructor(private readonly o: LoopContentionOptions) {
    this.intervalMs = o.intervalMs ?? 100;
    this.threshold = o.threshold ?? 0.1;
    this.readWaitNs = o.readWaitNs ?? readOwnWaitNs;
    this.nowNs = o.nowNs ?? (() => Number(process.hrtime.bigint()));
  }

  get contended(): boolean {
    return this.state;
  }

  /** Starts sampling (idempotent); the timer never keeps the process alive. */
  start(): void {
    if (this.timer) return;
    const wait = this.readWaitNs();
    if (wait === undefined) return;
    this.lastWait = wait;
    this.lastAt = this.nowNs();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops sampling; the loop counts as uncontended from now on. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.set(false);
  }

  /** One sample (the timer calls it; tests call it directly). */
  sample(): void {
    const wait = this.readWaitNs();
    const now = this.nowNs();
    if (wait === undefined) {
      this.stop();
      return;
    }
    const elapsed = now - this.lastAt;
    if (elapsed <= 0) return;
    const share = (wait - this.lastWait) / elapsed;
    this.lastWait = wait;
    this.lastAt = now;
    this.set(share >= this.threshold);
  }

  private set(contended: boolean): void {
    if (contended === this.state) return;
    this.state = contended;
    this.o.onChange(contended);
  }
}
