/**
 * A token bucket for bytes per second, shared by every session of one user on this node. Bytes
 * are taken as they pass (the bucket may go into debt); the answer is how long the caller should
 * hold back before the next bytes so that the average stays at the rate. The caller waits with a
 * timer on its own channel or request: nothing sleeps, other users go on.
 */

export type Clock = () => number;

/** Seconds of the rate the bucket holds when full: the burst a paused transfer may send at once. */
export const BURST_SECONDS = 0.1;

export class TokenBucket {
  private tokens: number;
  private last: number;
  /** Bytes counted, and milliseconds callers were told to wait, since the bucket was made. */
  private totals = { bytes: 0, delayedMs: 0 };

  /** `rate`: bytes per second; 0 = unlimited. */
  constructor(
    private rateBps: number,
    private readonly now: Clock = () => performance.now(),
  ) {
    this.last = now();
    this.tokens = this.capacity;
  }

  get rate(): number {
    return this.rateBps;
  }

  get limited(): boolean {
    return this.rateBps > 0;
  }

  /** A new rate, effective at once (the admin changed the user's limit). */
  setRate(rateBps: number): void {
    this.refill();
    this.rateBps = rateBps;
    this.tokens = Math.min(this.tokens, this.capacity);
  }

  get stats(): { bytes: number; delayedMs: number } {
    return { ...this.totals };
  }

  private get capacity(): number {
    return this.rateBps * BURST_SECONDS;
  }

  private refill(): void {
    const t = this.now();
    if (this.rateBps > 0) {
      this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) * this.rateBps) / 1000);
    }
    this.last = t;
  }

  /** Counts `bytes` that pass now; milliseconds to hold back before the next ones (0: none). */
  take(bytes: number): number {
    this.totals.bytes += bytes;
    if (this.rateBps <= 0) return 0;
    this.refill();
    this.tokens -= bytes;
    if (this.tokens >= 0) return 0;
    const ms = (-this.tokens * 1000) / this.rateBps;
    this.totals.delayedMs += ms;
    return ms;
  }
}

/** Every user's upload and download buckets on this node. */
export class Bandwidth {
  private readonly buckets = new Map<string, { up: TokenBucket; down: TokenBucket }>();

  constructor(
    private readonly limitOf: (user: string) => { upBps: number; downBps: number },
    private readonly now?: Clock,
  ) {}

  /** The user's buckets (made on first use, with its current limits). */
  of(user: string): { up: TokenBucket; down: TokenBucket } {
    let pair = this.buckets.get(user);
    if (!pair) {
      const l = this.limitOf(user);
      pair = { up: new TokenBucket(l.upBps, this.now), down: new TokenBucket(l.downBps, this.now) };
      this.buckets.set(user, pair);
    }
    return pair;
  }

  /** The user's limits changed: its buckets take the new rates at once. */
  update(user: string): void {
    const pair = this.buckets.get(user);
    if (!pair) return;
    const l = this.limitOf(user);
    pair.up.setRate(l.upBps);
    pair.down.setRate(l.downBps);
  }
}
