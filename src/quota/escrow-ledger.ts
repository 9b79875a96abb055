/**
 * The QuotaLedger of a server that shares its store with other processes or
 * nodes: every user's quota is exact across all of them. Each process answers
 * its checks from escrow grants it holds in the store (shared-usage.ts) and
 * settles with the store in the background: it commits what changed, renews
 * its grants' lease, asks for more before a grant runs out and gives back what
 * it no longer needs. A process that dies holds nothing once its lease has run
 * out.
 */
import { performance } from 'node:perf_hooks';
import type { Store } from '../store/types';
import type { GrantSettle, GrantSettled, GrantStore } from '../store/grant-types';
import type { Logger } from '../log/types';
import { MiniftpError, describeError } from '../errors';
import type { QuotaLedger, ScanHome, Usage } from './quota-ledger';
import { SharedUsage, type GrantChannel } from './shared-usage';
import { DEFAULT_SIZING, type GrantSizing } from './grant-size';
import { measureHome } from './measure-home';
import { loadOnce } from '../util/load-once';

export interface EscrowLedgerOptions {
  store: Store;
  grants: GrantStore;
  logger: Logger;
  scanHome: ScanHome;
  /** This process, unique among all that share the store (node name, pid, start). */
  holder: string;
  /** How long a grant outlives its holder's last settle (ms). */
  leaseMs: number;
  /** How often a user's limits and usage are read again from the store (ms): an admin change elsewhere applies within it. */
  refreshMs?: number;
  sizing?: GrantSizing;
}

export class EscrowLedger implements QuotaLedger {
  private readonly usages = new Map<string, SharedUsage>();
  private readonly loading = new Map<string, Promise<SharedUsage>>();
  private readonly channel: GrantChannel;
  private readonly refreshMs: number;
  private timer: NodeJS.Timeout | undefined;
  private failing = false;

  constructor(private readonly options: EscrowLedgerOptions) {
    this.refreshMs = options.refreshMs ?? 500;
    this.channel = {
      holder: options.holder,
      leaseMs: options.leaseMs,
      sizing: options.sizing ?? DEFAULT_SIZING,
      settle: (s: GrantSettle): Promise<GrantSettled> => this.settleOne(s),
      failed: (user, err) => this.failed(user, err),
    };
  }

  private async settleOne(s: GrantSettle): Promise<GrantSettled> {
    const r = await this.options.grants.settle(s);
    if (this.failing) {
      this.failing = false;
      this.options.logger.info('quota.store_back');
    }
    return r;
  }

  private failed(user: string, err: unknown): void {
    if (err instanceof MiniftpError && err.kind === 'not-found') {
      this.usages.delete(user);
      return;
    }
    // One line while the store stays unreachable, not one per settle.
    if (this.failing) return;
    this.failing = true;
    this.options.logger.warn('quota.store_unreachable', { user, error: describeError(err) });
  }

  /** The quota of `user`, loaded from the store with a first grant on first use. */
  get(user: string): Promise<SharedUsage> {
    return loadOnce(this.usages, this.loading, user, () => this.load(user));
  }

  private async load(user: string): Promise<SharedUsage> {
    const [rec, account] = await Promise.all([
      this.options.store.usage.get(user),
      this.options.store.users.get(user),
    ]);
    const raced = this.usages.get(user);
    if (raced) return raced;
    const u = new SharedUsage(
      user,
      rec.bytes,
      rec.files,
      { bytes: account?.quotaBytes ?? 0, files: account?.quotaFiles ?? 0 },
      this.channel,
    );
    this.usages.set(user, u);
    // A first grant before the first write asks for it (a store that fails is logged; the
    // writes then wait for the next settle).
    await u.settle().catch(() => undefined);
    return u;
  }

  /** The admin changed the limits here: settled at once (other processes pick it up within refreshMs). */
  async refreshLimits(user: string): Promise<void> {
    const u = this.usages.get(user);
    if (!u) return;
    await u.settle().catch(() => undefined);
  }

  drop(user: string): void {
    this.usages.delete(user);
    this.loading.delete(user);
  }

  /**
   * Measures the home and makes it the usage in the store. Changes other
   * processes have not committed yet are counted again when they commit, so
   * a rescan is exact when no other process has uploads open for the user.
   */
  async rescan(user: string): Promise<Usage> {
    const u = await this.get(user);
    // What changed here until now is on the disk the scan sees.
    await u.settle().catch(() => undefined);
    await measureHome(u, this.options.scanHome, this.options.logger);
    const written = { bytes: u.bytes, files: u.files };
    await this.options.store.usage.set(user, written.bytes, written.files, new Date());
    u.rebased(written);
    return written;
  }

  async rescanAll(): Promise<void> {
    for (const account of await this.options.store.users.list()) {
      if (account.isAdmin) continue;
      try {
        await this.rescan(account.name);
      } catch (err) {
        this.options.logger.error('quota.rescan_failed', {
          user: account.name,
          error: describeError(err),
        });
      }
    }
  }

  private tick(): void {
    const now = performance.now();
    for (const u of this.usages.values()) {
      if (u.due(now, this.refreshMs)) u.settle().catch(() => undefined);
    }
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), Math.max(50, Math.floor(this.refreshMs / 4)));
    this.timer.unref();
  }

  /** Commits what changed and gives back every grant (the server's close). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.usages.values()].map((u) => u.settle(true).catch(() => undefined)));
  }
}
