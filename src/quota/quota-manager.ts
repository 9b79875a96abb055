/**
 * Owns every user's UserUsage: loads them from the store, persists changes
 * (batched, at most once a second), and rebuilds them from the disk.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Store } from '../store/types';
import type { Logger } from '../log/types';
import { describeError, isErrno } from '../errors';
import { DIRECTORY_CHARGE, UserUsage, linkCharge, type ScannedUsage } from './user-usage';
import { Jail } from '../vfs/jail';

export interface DiskUsage {
  bytes: number;
  files: number;
}

/**
 * Measures what the quota counts below `dir` (the home, which is not counted
 * itself), as the ledger does (see user-usage.ts): the sizes of the regular
 * files (each hard link counts, as each name does), and each directory and
 * symlink as one file with its charge. Files for which `isOpen(device:inode)`
 * is true are also reported one by one, so the ledger can keep its own figure
 * for them. `onLink` may rewrite a symlink; its charge is taken afterwards.
 */
export async function scanDirectory(
  dir: string,
  isOpen: (key: string) => boolean = () => false,
  onLink?: (link: string) => Promise<unknown>,
  onUnreadable?: (path: string) => void,
): Promise<ScannedUsage> {
  const total: ScannedUsage = { bytes: 0, files: 0, open: new Map() };
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop() as string;
    let handle;
    try {
      handle = await fsp.opendir(current);
    } catch (err) {
      if (isErrno(err) && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) continue;
      // A directory its owner made unreadable (chmod 000): the rest is still counted.
      if (isErrno(err) && (err.code === 'EACCES' || err.code === 'EPERM')) {
        onUnreadable?.(current);
        continue;
      }
      throw err;
    }
    for await (const entry of handle) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) {
        pending.push(full);
        total.bytes += DIRECTORY_CHARGE;
        total.files += 1;
      } else if (entry.isSymbolicLink()) {
        await onLink?.(full).catch(() => undefined);
        // Gone (or replaced by something else) meanwhile: a path operation that a rescan retries on.
        const stored = await fsp.readlink(full).catch(() => undefined);
        if (stored === undefined) continue;
        total.bytes += linkCharge(stored, dir);
        total.files += 1;
      } else if (entry.isFile()) {
        const st = await fsp.lstat(full).catch((err: unknown) => {
          // Listed but not searchable (chmod 600 on a directory): the size cannot be known.
          if (isErrno(err) && (err.code === 'EACCES' || err.code === 'EPERM')) onUnreadable?.(full);
          return undefined;
        });
        if (!st?.isFile()) continue;
        total.bytes += st.size;
        total.files += 1;
        const key = `${st.dev}:${st.ino}`;
        if (isOpen(key)) {
          const seen = total.open.get(key);
          if (seen) seen.names++;
          else total.open.set(key, { size: st.size, names: 1 });
        }
      }
    }
  }
  return total;
}

export class QuotaManager {
  private readonly usages = new Map<string, UserUsage>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      store: Store;
      logger: Logger;
      /** Real path of the folder holding every home: <data>/docs. */
      docsDir: string;
    },
  ) {}

  homeOf(user: string): string {
    return path.join(this.options.docsDir, user);
  }

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
  async rescan(user: string): Promise<DiskUsage> {
    const u = this.get(user);
    const isOpen = (key: string): boolean => u.isOpen(key);
    // The real path, as sessions' jails have it: link charges are measured against it.
    const home = await fsp.realpath(this.homeOf(user)).catch(() => this.homeOf(user));
    // The walk also settles symlinks whose target climbs (see Jail.settleLink).
    const jail = new Jail(home);
    const onLink = (link: string): Promise<boolean> => jail.settleLink(link);
    let scanned: ScannedUsage;
    let attempts = 0;
    let unreadable: string[];
    for (;;) {
      const before = u.generation;
      const missed: string[] = [];
      scanned = await scanDirectory(home, isOpen, onLink, (p) => missed.push(p));
      unreadable = missed;
      attempts++;
      if (u.generation === before || attempts >= 5) break;
    }
    if (unreadable.length > 0) {
      // One line per rescan, with the home-relative path of the first.
      this.options.logger.warn('quota.rescan_partial', {
        user,
        unreadable: unreadable.length,
        first: `/${path.relative(home, unreadable[0] as string)}`,
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

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }
}
