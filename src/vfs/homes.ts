/** Where each user's home lives (<data>/docs/<user>/) and the jailed filesystem for a session. */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { QuotaLedger, ScannedUsage } from '../quota/quota-ledger';
import type { Logger } from '../log/types';
import { isErrno } from '../errors';
import { Jail } from './jail';
import { fileKey } from './checked-change';
import type { AccessSource } from './permissions';
import type { UploadTracker } from './upload-tracker';
import { UserFs } from './user-fs';
import { scanHome } from './usage-scan';

export class Homes {
  constructor(
    private readonly options: {
      docsDir: string;
      quota: QuotaLedger;
      /** Follows every user's uploads (see UploadTracker); none by default. */
      uploads?: UploadTracker;
      /** Shared folders and per-path permissions; none: each home alone, all of it writable. */
      access?: AccessSource;
    },
  ) {}

  pathOf(user: string): string {
    return path.join(this.options.docsDir, user);
  }

  /** Creates the home if it is missing; returns its real path. */
  async ensure(user: string): Promise<string> {
    const home = this.pathOf(user);
    await fsp.mkdir(home, { recursive: true, mode: 0o700 });
    return fsp.realpath(home);
  }

  /** `logger`: the session's, where quota refusals are logged. */
  async fsFor(user: string, options: { logger?: Logger } = {}): Promise<UserFs> {
    const root = await this.ensure(user);
    return new UserFs({
      jail: new Jail(root),
      usage: await this.options.quota.get(user),
      logger: options.logger,
      uploads: this.options.uploads,
      access: this.options.access,
    });
  }

  /** Measures what the quota counts in the home of `user` (the quota's rescan). */
  scanUsage(user: string, isOpen: (key: string) => boolean): Promise<ScannedUsage> {
    return scanHome(this.pathOf(user), isOpen);
  }

  /**
   * The regular file at `virtual` in the view of `user` (the home, or a shared folder mounted in
   * it): its device:inode and size, or undefined when there is none there. The correction of an
   * upload whose node died measures the file with it.
   */
  async fileAt(user: string, virtual: string): Promise<{ key: string; size: number } | undefined> {
    try {
      const st = await (await this.fsFor(user)).lstat(virtual);
      return st.isFile() ? { key: fileKey(st), size: st.size } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Deletes a home and everything in it (admin `user del --purge`). */
  async purge(user: string): Promise<void> {
    const home = this.pathOf(user);
    try {
      await fsp.rm(home, { recursive: true, force: true });
    } catch (err) {
      if (!isErrno(err) || (err.code !== 'EACCES' && err.code !== 'EPERM')) throw err;
      // Directories the user closed (chmod 000 or 500) are the server's own: opened again, then removed.
      await openUp(home);
      await fsp.rm(home, { recursive: true, force: true });
    }
  }
}

/** Gives the owner full access to `dir` and every directory below it. */
export async function openUp(dir: string): Promise<void> {
  const st = await fsp.lstat(dir);
  if (!st.isDirectory()) return;
  await fsp.chmod(dir, 0o700);
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) await openUp(path.join(dir, e.name));
  }
}
