/**
 * One user's quota in a process that shares the user with other processes and
 * nodes through the store (the UserQuota that EscrowLedger hands out).
 *
 * The accounting of open files, names and charges is UserUsage's; what
 * changes is where a growth is checked. Instead of the limit, a growth is
 * checked against this process's grant: bytes and files of the user's
 * remaining quota the store has set aside for it (see store/grant-types.ts).
 * With `net` the change of usage here since the last settle,
 *
 *   net + growth ≤ grant        (while the grant's lease is known to run)
 *
 * and since the store keeps usage + Σ grants ≤ limit, the usage committed at
 * the next settle (usage + net) stays within the limit whatever the other
 * processes do. Every check stays synchronous. When the grant runs low a
 * settle asks for more in the background; a growth the grant cannot cover
 * is refused with a `pending` promise (QuotaExceeded.pending) that settles
 * once more was asked for, so that a caller able to wait (a WRITE) tries
 * again, and one that cannot gets the refusal.
 *
 * `bytes` and `files` are the user's usage as this process sees it: the
 * store's figure at the last settle plus what changed here since.
 */
import { performance } from 'node:perf_hooks';
import type { GrantSettle, GrantSettled, OpenCharge } from '../store/grant-types';
import { MiniftpError } from '../errors';
import { QuotaExceeded, type QuotaLimits } from './quota-ledger';
import { UserUsage } from './user-usage';
import { nextChunk, share, type GrantSizing } from './grant-size';

/** What a SharedUsage needs of its ledger. */
export interface GrantChannel {
  readonly holder: string;
  readonly leaseMs: number;
  readonly sizing: GrantSizing;
  settle(s: GrantSettle): Promise<GrantSettled>;
  /** A settle failed (the store is unreachable): logged by the ledger; the grant runs out with its lease. */
  failed(user: string, err: unknown): void;
}

/** How long after a short grant (the store had less than asked) a refusal is final without asking again. */
const SHORT_FOR_MS = 250;
/** How long a user with no open file and no change keeps a grant before giving it back. */
const IDLE_RELEASE_MS = 2000;
/** A user with no change or check for this long, no grant and no open file is not refreshed. */
const DORMANT_MS = 60_000;

export class SharedUsage extends UserUsage {
  /** The usage the store reported at the last settle; bytes - committedBytes is this process's net change. */
  private committedBytes: number;
  private committedFiles: number;
  private grantBytes = 0;
  private grantFiles = 0;
  /** performance.now() until which the grant is sure to be live (a margin before the store's expiry). */
  private validUntil = 0;
  private storeFreeBytes = 0;
  private storeFreeFiles = 0;
  private chunkBytes: number;
  private chunkFiles: number;
  /** Growth refused for want of grant, to be asked for at the next settle. */
  private neededBytes = 0;
  private neededFiles = 0;
  private lastTopUp = -Infinity;
  private shortAt = -Infinity;
  private lastSettle = -Infinity;
  private lastChange = performance.now();
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  /** A settle asked to give the grant back (the process stops): the next one does. */
  private releaseAsked = false;
  private lastError: unknown;
  /** Files whose last handle closed since the last settle that succeeded: their size then. */
  private readonly closedSince = new Map<string, OpenCharge>();

  constructor(
    user: string,
    bytes: number,
    files: number,
    limits: QuotaLimits,
    private readonly channel: GrantChannel,
  ) {
    super(user, bytes, files, limits);
    this.committedBytes = bytes;
    this.committedFiles = files;
    this.chunkBytes = channel.sizing.minBytes;
    this.chunkFiles = channel.sizing.minFiles;
  }

  /** What this process holds of the user's quota now (for the console and tests). */
  get grant(): { bytes: number; files: number } {
    return { bytes: this.grantBytes, files: this.grantFiles };
  }

  override touched(): void {
    super.touched();
    this.active();
  }

  /**
   * Notes a change or check now. A user idle for a while is not refreshed
   * from the store (see due), so the first activity after it settles at once.
   */
  private active(): number {
    const now = performance.now();
    if (now - this.lastChange >= DORMANT_MS && !this.running) this.background();
    this.lastChange = now;
    return now;
  }

  protected override checkBytes(delta: number): void {
    if (delta > 0) this.check('bytes', delta, this.bytes - this.committedBytes);
  }

  protected override checkFiles(delta: number): void {
    if (delta > 0) this.check('files', delta, this.files - this.committedFiles);
  }

  /** `delta` more of `unit` (net: the change since the last settle), against the grant. */
  private check(unit: 'bytes' | 'files', delta: number, net: number): void {
    const now = this.active();
    const limit = unit === 'bytes' ? this.limits.bytes : this.limits.files;
    if (limit === 0) return;
    const live = this.grantLive(now);
    const grant = live ? (unit === 'bytes' ? this.grantBytes : this.grantFiles) : 0;
    const chunk = unit === 'bytes' ? this.chunkBytes : this.chunkFiles;
    if (net + delta <= grant) {
      if (grant - (net + delta) < chunk / 2 && !this.running) this.background();
      return;
    }
    if (unit === 'bytes') this.neededBytes = Math.max(this.neededBytes, net + delta - grant);
    else this.neededFiles = Math.max(this.neededFiles, net + delta - grant);
    if (this.lastError !== undefined && now - this.lastSettle < SHORT_FOR_MS) {
      // Not a refusal by the quota: nobody can tell what is left of it now.
      throw MiniftpError.failure(
        'the quota cannot be checked now: the server cannot reach its store',
      );
    }
    throw new QuotaExceeded({
      attempted: delta,
      used: unit === 'bytes' ? this.bytes : this.files,
      limit,
      unit,
      pending:
        now - this.shortAt < SHORT_FOR_MS && live
          ? undefined
          : this.settle().catch(() => undefined),
    });
  }

  private grantLive(now: number): boolean {
    return now < this.validUntil;
  }

  private background(): void {
    this.settle().catch(() => undefined);
  }

  /**
   * Whether the periodic tick should settle now: changes to commit, a lease
   * to renew, a grant to give back, or limits to pick up (every `refreshMs`).
   */
  due(now: number, refreshMs: number): boolean {
    if (this.running) return false;
    const sinceSettle = now - this.lastSettle;
    if (this.bytes !== this.committedBytes || this.files !== this.committedFiles)
      return sinceSettle >= refreshMs / 2;
    const holding = this.grantBytes > 0 || this.grantFiles > 0;
    if (holding && (this.releasable(now) || sinceSettle >= this.channel.leaseMs / 3)) return true;
    if (!holding && !this.hasOpenFiles && now - this.lastChange >= DORMANT_MS) return false;
    return sinceSettle >= refreshMs;
  }

  private releasable(now: number): boolean {
    return !this.hasOpenFiles && now - this.lastChange >= IDLE_RELEASE_MS;
  }

  /** Settles with the store: one at a time; a call during one runs once more after it. */
  settle(release = false): Promise<void> {
    this.releaseAsked ||= release;
    if (!this.running) {
      const asked = this.releaseAsked;
      this.releaseAsked = false;
      const run = this.runSettle(asked).finally(() => {
        if (this.running === run) this.running = undefined;
      });
      this.running = run;
      return run;
    }
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.settle();
      });
    return this.queued;
  }

  private wants(now: number, release: boolean): { bytes: number; files: number } {
    if (release) return { bytes: 0, files: 0 };
    const live = this.grantLive(now);
    const headBytes = (live ? this.grantBytes : 0) - (this.bytes - this.committedBytes);
    const headFiles = (live ? this.grantFiles : 0) - (this.files - this.committedFiles);
    let bytes = 0;
    let files = 0;
    const active = !this.releasable(now) || this.neededBytes > 0 || this.neededFiles > 0;
    if (
      this.limits.bytes > 0 &&
      active &&
      (headBytes < this.chunkBytes / 2 || this.neededBytes > 0)
    ) {
      this.chunkBytes = nextChunk(
        this.chunkBytes,
        now - this.lastTopUp,
        this.channel.sizing.minBytes,
        this.channel.sizing.maxBytes,
      );
      bytes = Math.max(
        this.neededBytes,
        share(this.chunkBytes, this.storeFreeBytes, this.channel.sizing.minShareBytes),
      );
    }
    if (
      this.limits.files > 0 &&
      active &&
      (headFiles < this.chunkFiles / 2 || this.neededFiles > 0)
    ) {
      this.chunkFiles = nextChunk(
        this.chunkFiles,
        now - this.lastTopUp,
        this.channel.sizing.minFiles,
        this.channel.sizing.maxFiles,
      );
      files = Math.max(this.neededFiles, share(this.chunkFiles, this.storeFreeFiles, 1));
    }
    if (bytes > 0 || files > 0) this.lastTopUp = now;
    return { bytes, files };
  }

  private async runSettle(releaseAsked: boolean): Promise<void> {
    const started = performance.now();
    const release = releaseAsked || this.releasable(started);
    const want = this.wants(started, release);
    this.neededBytes = 0;
    this.neededFiles = 0;
    const netBytes = this.bytes - this.committedBytes;
    const netFiles = this.files - this.committedFiles;
    // Every open file's charge, each settle: a lease given back and taken again since (a file
    // closed and opened again) holds none until then.
    const open = this.openCharges();
    const closed = [...this.closedSince.values()].filter((c) => !this.isOpen(c.key));
    const charges: OpenCharge[] = [...open, ...closed];
    let r: GrantSettled;
    try {
      r = await this.channel.settle({
        user: this.user,
        holder: this.channel.holder,
        deltaBytes: netBytes,
        deltaFiles: netFiles,
        wantBytes: want.bytes,
        wantFiles: want.files,
        release,
        leaseMs: this.channel.leaseMs,
        ...(charges.length > 0 ? { charges } : {}),
      });
    } catch (err) {
      this.lastError = err;
      this.lastSettle = performance.now();
      this.channel.failed(this.user, err);
      throw err;
    }
    this.lastError = undefined;
    this.lastSettle = performance.now();
    for (const c of closed) if (this.closedSince.get(c.key) === c) this.closedSince.delete(c.key);
    // Changes made while the settle was on its way stay to be committed next time.
    const laterBytes = this.bytes - this.committedBytes - netBytes;
    const laterFiles = this.files - this.committedFiles - netFiles;
    this.committedBytes = r.usageBytes;
    this.committedFiles = r.usageFiles;
    this.bytes = Math.max(0, r.usageBytes + laterBytes);
    this.files = Math.max(0, r.usageFiles + laterFiles);
    this.grantBytes = r.grantBytes;
    this.grantFiles = r.grantFiles;
    this.storeFreeBytes = r.freeBytes;
    this.storeFreeFiles = r.freeFiles;
    // The store's expiry counts from its own clock at the settle, later than `started`.
    this.validUntil = started + this.channel.leaseMs * 0.75;
    if (this.limits.bytes !== r.limitBytes || this.limits.files !== r.limitFiles)
      this.limits = { bytes: r.limitBytes, files: r.limitFiles };
    if ((want.bytes > 0 && r.freeBytes === 0) || (want.files > 0 && r.freeFiles === 0))
      this.shortAt = this.lastSettle;
    this.markClean();
  }

  override closeFile(key: string, st: { size: number; nlink: number } | undefined): void {
    const size = this.chargedSize(key);
    const names = this.namesOf(key) ?? 0;
    super.closeFile(key, st);
    if (size === undefined || this.isOpen(key)) return;
    // The last handle: the next settle commits the size the close left, and says so on the lease.
    const gone = names === 0 || st?.nlink === 0;
    this.closedSince.set(key, { key, size: gone ? 0 : (st?.size ?? size), names, closed: true });
  }

  /**
   * A rescan's figures `written` were made the store's usage: what changed
   * here since (in `bytes` and `files`) stays to be committed.
   */
  rebased(written: { bytes: number; files: number }): void {
    this.committedBytes = written.bytes;
    this.committedFiles = written.files;
  }
}
