export interface LoginThrottleOptions {
  /** Failed logins within the window that trigger a ban; 0 turns banning off. */
  readonly threshold: number;
  readonly windowSeconds: number;
  readonly banSeconds: number;
  /** Most IPs remembered at once; the least recently seen are forgotten first. */
  readonly maxTracked?: number;
  /** Milliseconds since the epoch; injectable so tests can move time. */
  readonly now?: () => number;
}

interface Entry {
  /** Times of the failures still inside the window, oldest first; never longer than threshold. */
  failures: number[];
  bannedUntil: number | undefined;
}

const DEFAULT_MAX_TRACKED = 10_000;
/** A full sweep is O(tracked IPs), so run it at most this often. */
const PRUNE_INTERVAL_MS = 1_000;

/**
 * Per-IP failed-login counting with a sliding window and temporary bans. Memory stays bounded:
 * expired entries are swept, and past `maxTracked` the least recently seen IP is dropped — an
 * attacker rotating through more addresses than that loses only the history of the oldest ones.
 */
export class LoginThrottle {
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly banMs: number;
  private readonly maxTracked: number;
  private readonly now: () => number;
  /** Insertion order is recency order: every touch re-inserts the entry at the end. */
  private readonly entries = new Map<string, Entry>();
  private lastPrune = Number.NEGATIVE_INFINITY;

  constructor(options: LoginThrottleOptions) {
    this.threshold = Math.max(0, Math.floor(options.threshold));
    this.windowMs = Math.max(0, options.windowSeconds) * 1000;
    this.banMs = Math.max(0, options.banSeconds) * 1000;
    this.maxTracked = Math.max(1, Math.floor(options.maxTracked ?? DEFAULT_MAX_TRACKED));
    this.now = options.now ?? Date.now;
  }

  isBanned(ip: string): boolean {
    return this.bannedUntil(ip) !== undefined;
  }

  /** When the ban on `ip` ends (same clock as `now`), or undefined when it is not banned. */
  bannedUntil(ip: string): number | undefined {
    const until = this.entries.get(ip)?.bannedUntil;
    return until !== undefined && until > this.now() ? until : undefined;
  }

  /** Counts one failure; `banned` is true only when this failure started a ban. */
  recordFailure(ip: string): { banned: boolean } {
    if (this.threshold === 0) return { banned: false };
    const now = this.now();
    this.pruneIfDue(now);

    const entry = this.touch(ip) ?? { failures: [], bannedUntil: undefined };
    if (entry.bannedUntil !== undefined && entry.bannedUntil > now) {
      // Already banned: the SSH layer should not even have asked; do not extend the ban.
      this.entries.set(ip, entry);
      return { banned: false };
    }
    entry.bannedUntil = undefined;
    entry.failures = entry.failures.filter((t) => t > now - this.windowMs);
    entry.failures.push(now);

    let banned = false;
    if (entry.failures.length >= this.threshold) {
      entry.failures = [];
      entry.bannedUntil = now + this.banMs;
      banned = this.banMs > 0;
    }
    this.entries.set(ip, entry);
    this.evictOverflow();
    return { banned };
  }

  recordSuccess(ip: string): void {
    const entry = this.entries.get(ip);
    if (!entry) return;
    // A success clears the count but cannot lift a ban (a banned IP should not get that far).
    if (entry.bannedUntil !== undefined && entry.bannedUntil > this.now()) {
      entry.failures = [];
    } else {
      this.entries.delete(ip);
    }
  }

  /** Number of IPs currently remembered. */
  get size(): number {
    return this.entries.size;
  }

  /** Removes and returns the entry so the caller can re-insert it as the most recent. */
  private touch(ip: string): Entry | undefined {
    const entry = this.entries.get(ip);
    if (entry) this.entries.delete(ip);
    return entry;
  }

  private isExpired(entry: Entry, now: number): boolean {
    if (entry.bannedUntil !== undefined && entry.bannedUntil > now) return false;
    const newest = entry.failures[entry.failures.length - 1];
    return newest === undefined || newest <= now - this.windowMs;
  }

  private pruneIfDue(now: number): void {
    if (now - this.lastPrune < PRUNE_INTERVAL_MS) return;
    this.lastPrune = now;
    for (const [ip, entry] of this.entries) {
      if (this.isExpired(entry, now)) this.entries.delete(ip);
    }
  }

  private evictOverflow(): void {
    for (const ip of this.entries.keys()) {
      if (this.entries.size <= this.maxTracked) return;
      this.entries.delete(ip);
    }
  }
}
