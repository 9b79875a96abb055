/**
 * A rescan of one user's home, whichever ledger holds the usage: the walk
 * (which starts over when names changed under it), the partial scan that
 * never lowers the figure, the reset of the usage, and the log lines.
 */
import type { Logger } from '../log/types';
import type { ScanHome, ScannedUsage } from './quota-ledger';
import type { UserUsage } from './user-usage';

/** Measures the home of `u.user` on disk and makes that its usage; files open for writing keep their charge. */
export async function measureHome(u: UserUsage, scanHome: ScanHome, logger: Logger): Promise<void> {
  const user = u.user;
  const isOpen = (key: string): boolean => u.isOpen(key);
  let scanned: ScannedUsage;
  let attempts = 0;
  for (;;) {
    const before = u.generation;
    scanned = await scanHome(user, isOpen);
    attempts++;
    if (u.generation === before || attempts >= 5) break;
  }
  const unreadable = scanned.unreadable;
  if (unreadable.length > 0) {
    // One line per rescan, with the home-relative path of the first.
    logger.warn('quota.rescan_partial', {
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
    logger.info('quota.rescan', {
      user,
      bytes: u.bytes,
      files: u.files,
      was_bytes: was.bytes,
      was_files: was.files,
    });
  }
}
