/** Progress of one transfer: throttled reports with a rate over the last few seconds. */

export interface TransferProgress {
  /** Bytes of the file now at the destination, resumed prefix included. */
  transferred: number;
  total: number;
  bytesPerSecond: number;
  /** null while no rate is known yet. */
  etaSeconds: number | null;
  resumedFrom: number;
}

export type ProgressListener = (p: TransferProgress) => void;

/** The rate is measured over this much recent history, so a stall shows quickly. */
const RATE_WINDOW_MS = 5000;

export interface ProgressReporterOptions {
  total: number;
  resumedFrom: number;
  listener?: ProgressListener;
  /** Least time between two reports; the first and the final one are always sent. */
  intervalMs: number;
  now?: () => number;
}

export class ProgressReporter {
  private transferred: number;
  private sent = 0;
  private lastEmit = Number.NEGATIVE_INFINITY;
  private readonly samples: Array<{ t: number; sent: number }> = [];
  private readonly now: () => number;

  constructor(private readonly o: ProgressReporterOptions) {
    this.transferred = o.resumedFrom;
    this.now = o.now ?? Date.now;
  }

  start(): void {
    this.emit(this.now());
  }

  add(bytes: number): void {
    this.transferred += bytes;
    this.sent += bytes;
    const t = this.now();
    if (t - this.lastEmit >= this.o.intervalMs) this.emit(t);
  }

  finish(): void {
    this.emit(this.now(), true);
  }

  private emit(t: number, final = false): void {
    this.lastEmit = t;
    if (!this.o.listener) return;
    this.samples.push({ t, sent: this.sent });
    while (this.samples.length > 2 && t - (this.samples[1]?.t ?? t) >= RATE_WINDOW_MS) {
      this.samples.shift();
    }
    const first = this.samples[0] ?? { t, sent: this.sent };
    const elapsed = (t - first.t) / 1000;
    const bytesPerSecond = elapsed > 0 ? (this.sent - first.sent) / elapsed : 0;
    const left = this.o.total - this.transferred;
    const etaSeconds = final ? 0 : bytesPerSecond > 0 ? left / bytesPerSecond : null;
    this.o.listener({
      transferred: this.transferred,
      total: this.o.total,
      bytesPerSecond,
      etaSeconds,
      resumedFrom: this.o.resumedFrom,
    });
  }
}
