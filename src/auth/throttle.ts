export interface LoginThrottleOptions {
  /** Failed logins from one IP within the window that trigger a ban; 0 turns banning off. */
  readonly threshold: number;
  readonly windowSeconds: number;
  readonly banSeconds: number;
  /**
   * Failed password logins for one account, within the window, from addresses
   * it has never logged in from, that lock it for such addresses; 0 turns the
   * lock off.
   */
  readonly accountThreshold?: number;
  /** Seconds an account stays locked for addresses it has not logged in from. */
  readonly accountLockSeconds?: number;
  /** Most IPs (and accounts) remembered at once; the least recently seen are forgotten first. */
  readonly maxTracked?: number;
  /** Milliseconds since the epoch; injectable so tests can move time. */
  readonly now?: () => number;
}

/**
 * A failed or successful login counted here, as it is told to the other
 * processes of a cluster so that each of them counts it too.
 */
export type LoginEvent =
  | {
      readonly kind: 'failure';
      readonly ip: string;
      readonly account: string | undefined;
      readonly password: boolean;
    }
  | { readonly kind: 'success'; readonly ip: string; readonly account: string };

interface Failure {
  readonly at: number;
  /** The account it was for, or '' when the name cannot be an account. */
  readonly account: string;
}

interface Entry {
  /** Failures still inside the window, oldest first; never longer than the threshold. */
  failures: Failure[];
  bannedUntil: number | undefined;
}

interface AccountEntry {
  /** Times of failures from addresses not known for the account, oldest first. */
  failures: number[];
  lockedUntil: number | undefined;
}

const DEFAULT_MAX_TRACKED = 10_000;
/** A full sweep is O(tracked entries), so run it at most this often. */
const PRUNE_INTERVAL_MS = 1_000;
/** How long an address stays known for an account after a login from it. */
const KNOWN_ADDRESS_MS = 30 * 24 * 3600 * 1000;
/**
 * Longest name kept as an account key: longer names cannot be accounts (user
 * names have at most 32 characters), and keeping them would let a client
 * fill memory with its own strings.
 */
const MAX_ACCOUNT_KEY = 64;

function accountKey(account: string | undefined): string {
  return account !== undefined && account.length <= MAX_ACCOUNT_KEY ? account : '';
}

/**
 * Failed-login counting with sliding windows, per address and per account.
 *
 * Per address: failures for any account count, and a success only forgives
 * the failures for the account that logged in, so guessing one account's
 * password between logins to another never resets the count. At the
 * threshold the address is banned for a while.
 *
 * Per account: failed password logins from addresses the account has never
 * logged in from count; at the threshold the account is locked for a while,
 * but only for such addresses. Someone guessing from many addresses is
 * stopped, while the owner, logging in from where they did before, is not
 * locked out by it.
 *
 * Memory stays bounded: expired entries are swept, and past `maxTracked` the
 * least recently seen are dropped — an attacker rotating through more
 * addresses than that loses only the history of the oldest ones.
 */
export class LoginThrottle {
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly banMs: number;
  private readonly accountThreshold: number;
  private readonly accountLockMs: number;
  private readonly maxTracked: number;
  private readonly now: () => number;
  /** Insertion order is recency order: every touch re-inserts the entry at the end. */
  private readonly entries = new Map<string, Entry>();
  private readonly accounts = new Map<string, AccountEntry>();
  /** "account\nip" of successful logins, with when that knowledge expires; recency order. */
  private readonly known = new Map<string, number>();
  private lastPrune = Number.NEGATIVE_INFINITY;
  private readonly listeners: Array<(event: LoginEvent) => void> = [];

  constructor(options: LoginThrottleOptions) {
    this.threshold = Math.max(0, Math.floor(options.threshold));
    this.windowMs = Math.max(0, options.windowSeconds) * 1000;
    this.banMs = Math.max(0, options.banSeconds) * 1000;
    this.accountThreshold = Math.max(0, Math.floor(options.accountThreshold ?? 0));
    this.accountLockMs = Math.max(0, options.accountLockSeconds ?? 0) * 1000;
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

  /** Addresses banned right now (for the metrics). */
  get bansActive(): number {
    const now = this.now();
    let n = 0;
    for (const e of this.entries.values())
      if (e.bannedUntil !== undefined && e.bannedUntil > now) n++;
    return n;
  }

  /** Whether `account` has logged in from `ip` (recently enough to be remembered). */
  isKnownAddress(account: string, ip: string): boolean {
    const until = this.known.get(`${account}\n${ip}`);
    return until !== undefined && until > this.now();
  }

  /** Whether password logins for `account` from `ip` are refused without being checked. */
  isLocked(account: string, ip: string): boolean {
    const until = this.accounts.get(accountKey(account))?.lockedUntil;
    if (until === undefined || until <= this.now()) return false;
    return !this.isKnownAddress(account, ip);
  }

  /**
   * Counts one failure from `ip` for `account`. `banned` is true only when this
   * failure started a ban of the address, `locked` only when it started a lock
   * of the account. `password` false (a bad key signature) counts for the
   * address only: keys cannot be guessed, so they never lock an account.
   */
  recordFailure(
    ip: string,
    account?: string,
    password = true,
  ): { banned: boolean; locked: boolean } {
    const result = this.countFailure(ip, account, password);
    for (const l of this.listeners) l({ kind: 'failure', ip, account, password });
    return result;
  }

  /**
   * Calls `listener` with every failure and success recorded here (not those
   * applied from elsewhere): what a cluster tells its other processes.
   */
  onRecord(listener: (event: LoginEvent) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Counts a failure or success another process of the cluster recorded, as
   * if it had happened here: a guess spread over several nodes is banned on all.
   */
  apply(event: LoginEvent): { banned: boolean; locked: boolean } {
    if (event.kind === 'success') {
      this.forgive(event.ip, event.account);
      return { banned: false, locked: false };
    }
    return this.countFailure(event.ip, event.account, event.password);
  }

  private countFailure(
    ip: string,
    account: string | undefined,
    password: boolean,
  ): { banned: boolean; locked: boolean } {
    const now = this.now();
    this.pruneIfDue(now);
    const key = accountKey(account);
    const locked =
      password && key !== '' && !this.isKnownAddress(key, ip)
        ? this.countForAccount(key, now)
        : false;
    if (this.threshold === 0) return { banned: false, locked };

    const entry = this.touch(ip) ?? { failures: [], bannedUntil: undefined };
    if (entry.bannedUntil !== undefined && entry.bannedUntil > now) {
      // Already banned: the SSH layer should not even have asked; do not extend the ban.
      this.entries.set(ip, entry);
      return { banned: false, locked };
    }
    entry.bannedUntil = undefined;
    entry.failures = entry.failures.filter((f) => f.at > now - this.windowMs);
    entry.failures.push({ at: now, account: key });

    let banned = false;
    if (entry.failures.length >= this.threshold) {
      entry.failures = [];
      entry.bannedUntil = now + this.banMs;
      banned = this.banMs > 0;
    }
    this.entries.set(ip, entry);
    this.evictOverflow(this.entries);
    return { banned, locked };
  }

  /**
   * A login as `account` from `ip` succeeded: the address's failures for that
   * account are forgiven (a mistyped password), not those for other accounts,
   * and the address becomes known for the account. A ban is never lifted.
   */
  recordSuccess(ip: string, account: string): void {
    this.forgive(ip, account);
    for (const l of this.listeners) l({ kind: 'success', ip, account });
  }

  private forgive(ip: string, account: string): void {
    const key = accountKey(account);
    if (key !== '') {
      const pair = `${key}\n${ip}`;
      this.known.delete(pair);
      this.known.set(pair, this.now() + KNOWN_ADDRESS_MS);
      this.evictOverflow(this.known);
    }
    const entry = this.entries.get(ip);
    if (!entry) return;
    entry.failures = entry.failures.filter((f) => f.account !== key);
    const banned = entry.bannedUntil !== undefined && entry.bannedUntil > this.now();
    if (!banned && entry.failures.length === 0) this.entries.delete(ip);
  }

  /** Number of IPs currently remembered. */
  get size(): number {
    return this.entries.size;
  }

  /** Number of accounts whose failures are currently remembered. */
  get accountsTracked(): number {
    return this.accounts.size;
  }

  private countForAccount(key: string, now: number): boolean {
    if (this.accountThreshold === 0) return false;
    const entry = this.accounts.get(key) ?? { failures: [], lockedUntil: undefined };
    this.accounts.delete(key);
    if (entry.lockedUntil !== undefined && entry.lockedUntil > now) {
      // Tries during the lock are refused unchecked: they do not extend it.
      this.accounts.set(key, entry);
      return false;
    }
    entry.lockedUntil = undefined;
    entry.failures = entry.failures.filter((t) => t > now - this.windowMs);
    entry.failures.push(now);
    let locked = false;
    if (entry.failures.length >= this.accountThreshold) {
      entry.failures = [];
      entry.lockedUntil = now + this.accountLockMs;
      locked = this.accountLockMs > 0;
    }
    this.accounts.set(key, entry);
    this.evictOverflow(this.accounts);
    return locked;
  }

  /** Removes and returns the entry so the caller can re-insert it as the most recent. */
  private touch(ip: string): Entry | undefined {
    const entry = this.entries.get(ip);
    if (entry) this.entries.delete(ip);
    return entry;
  }

  private isExpired(until: number | undefined, failures: readonly number[], now: number): boolean {
    if (until !== undefined && until > now) return false;
    const newest = failures[failures.length - 1];
    return newest === undefined || newest <= now - this.windowMs;
  }

  private pruneIfDue(now: number): void {
    if (now - this.lastPrune < PRUNE_INTERVAL_MS) return;
    this.lastPrune = now;
    for (const [ip, entry] of this.entries) {
      const times = entry.failures.map((f) => f.at);
      if (this.isExpired(entry.bannedUntil, times, now)) this.entries.delete(ip);
    }
    for (const [key, entry] of this.accounts) {
      if (this.isExpired(entry.lockedUntil, entry.failures, now)) this.accounts.delete(key);
    }
    for (const [pair, until] of this.known) if (until <= now) this.known.delete(pair);
  }

  private evictOverflow(map: Map<string, unknown>): void {
    for (const key of map.keys()) {
      if (map.size <= this.maxTracked) return;
      map.delete(key);
    }
  }
}
