/**
 * The quota measured independently of the server, for tests that hold the
 * ledger against the disk: regular files by size per name, each directory below
 * the home 4 KiB, each symlink its target's length as READLINK shows it (a
 * target stored absolute below the home counts from the home).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import type { TestServer } from './server';

export interface Usage {
  bytes: number;
  files: number;
}

const DIRECTORY_CHARGE = 4096;

/** What the quota counts below `home` (`home` a real path; the home itself is free). */
export async function quotaUsage(home: string, dir = home): Promise<Usage> {
  const total: Usage = { bytes: 0, files: 0 };
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total.files += 1;
    if (entry.isDirectory()) {
      const sub = await quotaUsage(home, full);
      total.bytes += DIRECTORY_CHARGE + sub.bytes;
      total.files += sub.files;
    } else if (entry.isSymbolicLink()) {
      const stored = await fsp.readlink(full);
      const shown = stored.startsWith(`${home}/`) ? stored.slice(home.length) : stored;
      total.bytes += Buffer.byteLength(shown);
    } else {
      total.bytes += (await fsp.lstat(full)).size;
    }
  }
  return total;
}

/** The server's ledger for `user`. */
export async function ledger(server: TestServer, user = 'zhangsan'): Promise<Usage> {
  const u = await server.quota.get(user);
  return { bytes: u.bytes, files: u.files };
}

/** Fails unless the ledger equals a walk of the home on disk; returns that walk. */
export async function expectLedgerMatchesDisk(
  server: TestServer,
  user = 'zhangsan',
): Promise<Usage> {
  const disk = await quotaUsage(await fsp.realpath(server.home(user)));
  expect(await ledger(server, user), 'the ledger against the disk').to.deep.equal(disk);
  return disk;
}

/** Sets a quota as the console does: in the store, then for open sessions. */
export async function setQuota(
  server: TestServer,
  bytes: number,
  files = 0,
  user = 'zhangsan',
): Promise<void> {
  await server.store.users.setQuota(user, bytes, files);
  await server.quota.refreshLimits(user);
}
