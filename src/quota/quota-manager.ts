/**
 * The in-process QuotaLedger. Owns every user's UserUsage: loads them from
 * the store, persists changes (batched, at most once a second), and rebuilds
 * them from the disk with the scan the composition root passes in.
 */
import type { Store } from '../store/types';
import type { Logger } from '../log/types';
import { describeError } from '../errors';
import {
  folderOfSubject,
  type QuotaLedger,
  type QuotaSubjects,
  type ScanHome,
  type ScannedUsage,
  type Usage,
} from './quota-ledger';
import { UserUsage } from './user-usage';

export class QuotaManager implements QuotaLedger {
  private readonly usages = new Map<string, UserUsage>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      store: Store;
      logger: Logger;
      /** Measures a user's home on disk (the walk lives with the homes, in vfs). */
      scanHome: ScanHome;
      /** Shared folders, each a quota of its own (see folderSubject). */
      subjects?: QuotaSubjects;
    },
  ) {}

  /** The shared usage of `user`, created from the store on first use. */
  get(user: string): UserUsage {
    let u = this.usages.get(user);
    if (!u && folderOfSubject(user) !== undefined) {
      const found = this.options.subjects?.account(user);
      u = new UserUsage(
        user,
        found?.usage.bytes ?? 0,
        found?.usage.files ?? 0,
        found?.limits ?? { bytes: 0, files: 0 },
      );
      this.usages.set(user, u);
    }
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
    if (u && folderOfSubject(user) !== undefined) {
      const found = this.options.subjects?.account(user);
      if (found) u.limits = found.limits;
      return;
    }
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
    const isOpen = (key: string): boolean => u.isOpen(key);
    let scanned: ScannedUsage;
    let attempts = 0;
    for (;;) {
      const before = u.generation;
      scanned = await this.options.scanHome(user, isOpen);
      attempts++;
      if (u.generation === before || attempts >= 5) break;
    }
    const unreadable = scanned.unreadable;
    if (unreadable.length > 0) {
      // One line per rescan, with the home-relative path of the first.
      this.options.logger.warn('quota.rescan_partial', {
        user,
        unreadable: unreadable.length,
        first: unreadable[0],
      });
    }
    const was = { bytes: u.bytes, files: u.files };
    if (unreadable.length > 0) {
      // What a user closed to the server (chmod 000) cannot be measured, and must not fall out of
      // the quota by it: a partial scan never lowers the figure the ledger had.
      scanned = {
        ...scanned,
        bytes: Math.max(scanned.bytes, was.bytes),
        files: Math.max(scanned.files, was.files),
      };
    }
    u.reset(scanned);
    if (was.bytes !== u.bytes || was.files !== u.files) {
      this.options.logger.info('quota.rescan', {
        user,
        bytes: u.bytes,
        files: u.files,
        was_bytes: was.bytes,
        was_files: was.files,
      });
    }
    this.save(u, new Date());
    u.markClean();
    return { bytes: u.bytes, files: u.files };
  }

  /** Writes a usage where its subject's is kept: the store's usage table, or the folder's. */
  private save(u: UserUsage, scannedAt?: Date): void {
    if (folderOfSubject(u.user) !== undefined) {
      this.options.subjects?.saveUsage(u.user, { bytes: u.bytes, files: u.files });
    } else {
      this.options.store.usage.set(u.user, u.bytes, u.files, scannedAt);
    }
  }

  /** Rescans every user (and shared folder) one after the other without holding up the caller. */
  async rescanAll(): Promise<void> {
    const subjects = this.options.store.users
      .list()
      .filter((a) => !a.isAdmin)
      .map((a) => a.name);
    subjects.push(...(this.options.subjects?.list() ?? []));
    for (const subject of subjects) {
      try {
        await this.rescan(subject);
      } catch (err) {
        this.options.logger.error('quota.rescan_failed', {
          user: subject,
          error: describeError(err),
        });
      }
    }
  }

  /** Writes changed usages to the store. */
  flush(): void {
    for (const u of this.usages.values()) {
      if (!u.isDirty) continue;
      const folder = folderOfSubject(u.user) !== undefined;
      if (folder ? !this.options.subjects?.account(u.user) : !this.options.store.users.get(u.user))
        continue;
      try {
        this.save(u);
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

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }
}
