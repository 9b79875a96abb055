/**
 * The quota measured independently of the server, for tests that hold the
 * ledger against the disk: regular files by size per name, each directory below
 * the home 4 KiB, each symlink its target's length as READLINK shows it (a
 * target stored absolute below the home counts from the home).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import type { GrantSettle } from '../../src/store/grant-types';
import type { TestServer } from './server';
import { writeRandomFile } from './files';
import { sftpBatch } from './openssh';

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

/**
 * Six uploads of 1.5 MiB at once by OpenSSH's sftp as zhangsan (9 MiB against a 6 MiB quota),
 * the i-th through `ports[i % ports.length]`. Checks that some were refused with the quota's
 * status, that the disk holds no more than `quota` and that every accepted upload is whole;
 * returns what the disk holds.
 */
export async function raceUploadsUnderQuota(o: {
  ports: number[];
  localDir: string;
  home: string;
  quota: number;
}): Promise<Usage> {
  const size = 1.5 * 1024 * 1024;
  const names = [0, 1, 2, 3, 4, 5].map((i) => `race${i}.bin`);
  for (const n of names) await writeRandomFile(path.join(o.localDir, n), size);
  const creds = { user: 'zhangsan', password: '123' };
  const runs = await Promise.all(
    names.map((n, i) =>
      sftpBatch(o.ports[i % o.ports.length] as number, creds, [`put ${n}`], { cwd: o.localDir }),
    ),
  );
  const refused = runs.filter((r) => r.code !== 0);
  expect(refused.length, 'some uploads must hit the quota').to.be.greaterThan(0);
  // OpenSSH's sftp names the status (FAILURE), not its message.
  for (const r of refused) expect(r.stderr).to.match(/Failure|quota exceeded/);
  const home = await fsp.realpath(o.home);
  const disk = await quotaUsage(home);
  expect(disk.bytes).to.be.at.most(o.quota);
  for (const [i, r] of runs.entries()) {
    if (r.code === 0) {
      expect((await fsp.stat(path.join(home, names[i] as string))).size).to.equal(size);
    }
  }
  return disk;
}

/** A settle of bob's grant by `holder`: nothing to commit and nothing wanted unless `o` says so. */
export function grantSettle(o: Partial<GrantSettle> & { holder: string }): GrantSettle {
  return {
    user: 'bob',
    deltaBytes: 0,
    deltaFiles: 0,
    wantBytes: 0,
    wantFiles: 0,
    release: false,
    leaseMs: 60_000,
    ...o,
  };
}
