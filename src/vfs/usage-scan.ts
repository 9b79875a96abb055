/** The walk of a home that measures what the quota counts there (see ScanHome in quota-ledger.ts). */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../errors';
import { DIRECTORY_CHARGE, linkCharge, type ScannedUsage } from '../quota/quota-ledger';
import { Jail } from './jail';
import { fileKey } from './checked-change';
import { settleLink } from './link-checks';

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
): Promise<ScannedUsage> {
  const total: ScannedUsage = { bytes: 0, files: 0, open: new Map(), unreadable: [] };
  const missed = (p: string): void => {
    total.unreadable.push(`/${path.relative(dir, p)}`);
  };
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
        missed(current);
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
          if (isErrno(err) && (err.code === 'EACCES' || err.code === 'EPERM')) missed(full);
          return undefined;
        });
        if (!st?.isFile()) continue;
        total.bytes += st.size;
        total.files += 1;
        const key = fileKey(st);
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

/**
 * Measures the home at `home` for the quota's rescan. Link charges are
 * measured against its real path, as sessions' jails have it; the walk also
 * settles symlinks whose target climbs (see settleLink in link-checks.ts).
 */
export async function scanHome(
  home: string,
  isOpen: (key: string) => boolean,
): Promise<ScannedUsage> {
  const real = await fsp.realpath(home).catch(() => home);
  const jail = new Jail(real);
  return scanDirectory(real, isOpen, (link) => settleLink(jail, link));
}
