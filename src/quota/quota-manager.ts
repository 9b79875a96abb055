/**
 * The in-process QuotaLedger. Owns every user's UserUsage: loads them from
 * the store, persists changes (batched, at most once a second), and rebuilds
 * them from the disk with the scan the composition root passes in.
 */
import type { Store } from '../store/types';
import type { Logger } from '../log/types';
import { describeError } from '../errors';
import type { QuotaLedger, ScanHome, Usage } from './quota-ledger';
import { UserUsage } from './user-usage';
import { measureHome } from './measure-home';

export class QuotaManager implements QuotaLedger {
  private readonly usages = new Map<string, UserUsage>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      store: Store;
      logger: Logger;
      /** Measures a user's home on disk (the walk lives with the homes, in vfs). */
      scanHome: ScanHome;
    },
  ) {}

  /** The shared usage of `user`, created from the store on first use. */
  get(user: string): UserUsage {
    let u = this.usages.get(user);
    if (!u) {
      const rec = this.options.store.usage.get(user);
      const account = this.options.store.users.get(user);
      u = new UserUsage(user, rec.bytes, rec.files, {
        bytes: account?.quotaBytes ?? 0,
        files: account?.quotaFiles ?? 0,
      });
      this.usages.set(user, u);
    }
    return u;
  }

  /** Re-reads the user's limits from the store (after an admin change); applies to open sessions at once. */
  refreshLimits(user: string): void {
    const u = this.usages.get(user);
    const account = this.options.store.users.get(user);
    if (u && account) u.limits = { bytes: account.quotaBytes, files: account.quotaFiles };
  }

  /** Forgets a deleted user. */
  drop(user: string): void {
    this.usages.delete(user);
  }

  /**
   * Measures the home on disk and makes it the user's usage (the admin
   * console's rescan, and every user at start-up). Files open for writing keep
   * the size the ledger charged for them. Path operations racing the scan make
   * it start over (a few times), so the figure is what the disk holds.
   */
  async rescan(user: string): Promise<Usage> {
    const u = this.get(user);
    await measureHome(u, this.options.scanHome, this.options.logger);
    this.options.store.usage.set(user, u.bytes, u.files, new Date());
    u.markClean();
    return { bytes: u.bytes, files: u.files };
  }

  /** Rescans every user one after the other without holding up the caller. */
  async rescanAll(): Promise<void> {
    for (const account of this.options.store.users.list()) {
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

  /** Writes changed usages to the store. */
  flush(): void {
    for (const u of this.usages.values()) {
      if (!u.isDirty) continue;
      if (!this.options.store.users.get(u.user)) continue;
      try {
        this.options.store.usage.set(u.user, u.bytes, u.files);
        u.markClean();
      } catch (err) {
        // A full disk (SQLITE_FULL) must not take the server down from a timer:
        // the usage stays dirty and the next flush tries again.
        this.options.logger.warn('quota.flush_failed', { user: u.user, error: describeError(err) });
      }
    }
  }

  start(): void {
    this.timer = setInterval(() => this.flush(), 1000);
    this.timer.unref();
  }

  stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
    return Promise.resolve();
  }
}
