/**
 * The in-process QuotaLedger. Owns every user's UserUsage: loads them from
 * the store, persists changes (batched, at most once a second), and rebuilds
 * them from the disk with the scan the composition root passes in.
 *
 * The store is asynchronous, but every reservation is answered from the
 * UserUsage in memory in the turn that asks (see quota-ledger.ts); the store
 * only receives copies, in the background, and a write that fails leaves the
 * usage dirty, logged, for the next flush to try again.
 */
import { MiniftpError, describeError } from '../errors';
import type { Store } from '../store/types';
import type { Logger } from '../log/types';
import {
  folderOfSubject,
  type QuotaLedger,
  type QuotaSubjects,
  type ScanHome,
  type Usage,
} from './quota-ledger';
import { UserUsage } from './user-usage';
import { measureHome } from './measure-home';
import { loadOnce } from '../util/load-once';

export class QuotaManager implements QuotaLedger {
  private readonly usages = new Map<string, UserUsage>();
  /** Loads from the store in progress, so that concurrent first uses share one UserUsage. */
  private readonly loading = new Map<string, Promise<UserUsage>>();
  private timer: NodeJS.Timeout | undefined;
  /** The flush in progress: one at a time, so that an older figure never lands after a newer one. */
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly options: {
      store: Store;
      logger: Logger;
      /** Measures a user's home on disk (the walk lives with the homes, in vfs). */
      scanHome: ScanHome;
      /** Shared folders, each a quota of its own (see folderSubject). */
      subjects?: QuotaSubjects;
      /** Keeps only the `subjects` (shared folders): users are kept by another ledger. */
      subjectsOnly?: boolean;
    },
  ) {}

  /** The shared usage of `user`, created from the store on first use. */
  get(user: string): Promise<UserUsage> {
    return loadOnce(this.usages, this.loading, user, () => this.load(user));
  }

  private async load(user: string): Promise<UserUsage> {
    if (folderOfSubject(user) !== undefined) {
      const found = this.options.subjects?.account(user);
      const u = new UserUsage(
        user,
        found?.usage.bytes ?? 0,
        found?.usage.files ?? 0,
        found?.limits ?? { bytes: 0, files: 0 },
      );
      this.usages.set(user, u);
      return u;
    }
    const [rec, account] = await Promise.all([
      this.options.store.usage.get(user),
      this.options.store.users.get(user),
    ]);
    // Another caller may have been served meanwhile (a drop and a new load): keep one.
    const raced = this.usages.get(user);
    if (raced) return raced;
    const u = new UserUsage(user, rec.bytes, rec.files, {
      bytes: account?.quotaBytes ?? 0,
      files: account?.quotaFiles ?? 0,
    });
    this.usages.set(user, u);
    return u;
  }

  /** Re-reads the user's limits from the store (after an admin change); applies to open sessions at once. */
  async refreshLimits(user: string): Promise<void> {
    if (folderOfSubject(user) !== undefined) {
      const found = this.options.subjects?.account(user);
      const f = this.usages.get(user);
      if (f && found) f.limits = found.limits;
      return;
    }
    const account = await this.options.store.users.get(user);
    const u = this.usages.get(user);
    if (u && account) u.limits = { bytes: account.quotaBytes, files: account.quotaFiles };
  }

  /** Forgets a deleted user. */
  drop(user: string): void {
    this.usages.delete(user);
    this.loading.delete(user);
  }

  /**
   * Measures the home on disk and makes it the user's usage (the admin
   * console's rescan, and every user at start-up). Files open for writing keep
   * the size the ledger charged for them. Path operations racing the scan make
   * it start over (a few times), so the figure is what the disk holds.
   */
  async rescan(user: string): Promise<Usage> {
    const u = await this.get(user);
    await measureHome(u, this.options.scanHome, this.options.logger);
    const written = { bytes: u.bytes, files: u.files };
    await this.save(user, written, new Date());
    if (u.bytes === written.bytes && u.files === written.files) u.markClean();
    return written;
  }

  /** Writes a usage where its subject's is kept: the store's usage table, or the folder's. */
  private async save(subject: string, usage: Usage, scannedAt?: Date): Promise<void> {
    if (folderOfSubject(subject) !== undefined) {
      await this.options.subjects?.saveUsage(subject, usage);
    } else {
      await this.options.store.usage.set(subject, usage.bytes, usage.files, scannedAt);
    }
  }

  /** Rescans every user (and shared folder) one after the other without holding up the caller. */
  async rescanAll(): Promise<void> {
    // Kept beside a ledger of the users (SubjectRouter), this one rescans its subjects alone.
    const subjects = this.options.subjectsOnly
      ? []
      : (await this.options.store.users.list()).filter((a) => !a.isAdmin).map((a) => a.name);
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

  /**
   * Writes changed usages to the store; never rejects. A flush already running is waited for
   * and followed by another, so what was changed before the call is written once it resolves.
   */
  flush(): Promise<void> {
    const next = (this.flushing ?? Promise.resolve()).then(() => this.writeDirty());
    this.flushing = next;
    const forget = (): void => {
      if (this.flushing === next) this.flushing = undefined;
    };
    next.then(forget, forget);
    return next;
  }

  private async writeDirty(): Promise<void> {
    for (const u of [...this.usages.values()]) {
      if (!u.isDirty) continue;
      const written = { bytes: u.bytes, files: u.files };
      try {
        await this.save(u.user, written);
      } catch (err) {
        if (err instanceof MiniftpError && err.kind === 'not-found') {
          // The account was deleted meanwhile: nothing to keep.
          u.markClean();
          continue;
        }
        // A full disk or a database out of reach must not take the server down from a timer:
        // the usage stays dirty and the next flush tries again.
        this.options.logger.warn('quota.flush_failed', { user: u.user, error: describeError(err) });
        continue;
      }
      // Writes that came in while the figure was on its way keep it dirty for the next flush.
      if (u.bytes === written.bytes && u.files === written.files) u.markClean();
    }
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
