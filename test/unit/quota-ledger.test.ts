/**
 * The quota contract (src/quota/quota-ledger.ts), checked through the
 * interface only, on the ledger the server builds: the in-process QuotaManager
 * over a SQLite store, rescanning real homes with the walk from vfs. Also
 * checks the layering the contract exists for: quota imports nothing from
 * the layers above it, and those import only the contract.
 */
import { expect } from 'chai';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DIRECTORY_CHARGE,
  QuotaExceeded,
  linkCharge,
  type QuotaLedger,
  type UserQuota,
} from '../../src/quota/quota-ledger';
import { QuotaManager } from '../../src/quota/quota-manager';
import { openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import { Homes } from '../../src/vfs/homes';
import { fileKey } from '../../src/vfs/user-fs';
import { RecordingLogger } from '../helpers/fake-channel';

const KiB = 1024;
const SRC = path.resolve(__dirname, '..', '..', '..', 'src');

/** Every .ts file below `dir`, as paths relative to src/. */
async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(full)));
    else if (entry.name.endsWith('.ts')) out.push(path.relative(SRC, full));
  }
  return out;
}

/** The modules a source file imports, resolved to paths relative to src/ (packages as named). */
async function importsOf(file: string): Promise<string[]> {
  const text = await fsp.readFile(path.join(SRC, file), 'utf8');
  const specs = [...text.matchAll(/\bfrom\s+'([^']+)'/g)].map((m) => m[1] as string);
  return specs.map((s) =>
    s.startsWith('.') ? path.relative(SRC, path.resolve(SRC, path.dirname(file), s)) : s,
  );
}

function figures(q: UserQuota): { bytes: number; files: number } {
  return { bytes: q.bytes, files: q.files };
}

describe('QuotaLedger', function () {
  let dir: string;
  let store: Store;
  let homes: Homes;
  let ledger: QuotaLedger;

  beforeEach(async function () {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-ledger-'));
    store = await openStore({ file: path.join(dir, 'miniftp.db') });
    await fsp.mkdir(path.join(dir, 'docs'));
    const docsDir = await fsp.realpath(path.join(dir, 'docs'));
    // Built as the composition root builds it; above this line only the interface is used.
    ledger = new QuotaManager({
      store,
      logger: new RecordingLogger(),
      scanHome: (user, isOpen) => homes.scanUsage(user, isOpen),
    });
    homes = new Homes({ docsDir, quota: ledger });
    await store.users.create({
      name: 'bob',
      passwordHash: 'x',
      quotaBytes: 10 * KiB,
      quotaFiles: 4,
      isAdmin: false,
    });
    await homes.ensure('bob');
  });

  afterEach(async function () {
    await ledger.stop();
    await store.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  describe('layering', function () {
    it('outside quota, only the composition root names an implementation', async function () {
      const implementations = ['quota/user-usage', 'quota/quota-manager'];
      const found: string[] = [];
      for (const file of await sources(SRC)) {
        if (file.startsWith(`quota${path.sep}`) || file === path.join('main', 'start.ts')) {
          continue;
        }
        for (const target of await importsOf(file)) {
          if (implementations.includes(target)) found.push(`${file} -> ${target}`);
        }
      }
      expect(found).to.deep.equal([]);
    });
  });

  describe('a user\u2019s quota', function () {
    it('is one object for all sessions of the user, loaded with the limits in the store', async function () {
      const q = await ledger.get('bob');
      expect(await ledger.get('bob')).to.equal(q);
      expect(q.user).to.equal('bob');
      expect(q.limits).to.deep.equal({ bytes: 10 * KiB, files: 4 });
      expect(figures(q)).to.deep.equal({ bytes: 0, files: 0 });
    });

    it('answers a reservation in the same turn, and a refusal takes nothing', async function () {
      const q = await ledger.get('bob');
      q.reserveFile();
      q.openFile('1:1', 0, 1);
      // Synchronous: the WRITE is reserved (not a promise to be awaited) before this returns.
      expect(q.growTo('1:1', 6 * KiB)).to.equal(undefined);
      expect(figures(q)).to.deep.equal({ bytes: 6 * KiB, files: 1 });
      const before = figures(q);

      expect(() => q.growTo('1:1', 11 * KiB))
        .to.throw(QuotaExceeded, /^quota exceeded: 6 KiB of 10 KiB used$/)
        .that.includes({ kind: 'quota', unit: 'bytes', attempted: 5 * KiB });
      expect(q.chargedSize('1:1')).to.equal(6 * KiB);
      expect(() => q.addEntry(DIRECTORY_CHARGE + 1))
        .to.throw(QuotaExceeded)
        .that.includes({ unit: 'bytes' });
      expect(() => q.addName('1:1', 6 * KiB))
        .to.throw(QuotaExceeded)
        .that.includes({ unit: 'bytes' });
      expect(figures(q)).to.deep.equal(before);

      q.setSize('1:1', 0);
      q.addEntry(DIRECTORY_CHARGE);
      q.addEntry(linkCharge('a', '/home'));
      q.reserveFile();
      expect(() => q.reserveFile())
        .to.throw(QuotaExceeded, /^quota exceeded: 4 of 4 files used$/)
        .that.includes({ unit: 'files' });
      expect(q.files).to.equal(4);
    });

    it('gives back exactly what a change that failed on disk had reserved', async function () {
      const q = await ledger.get('bob');
      q.reserveFile();
      q.openFile('1:1', 0, 1);
      q.growTo('1:1', 100);
      q.closeFile('1:1', { size: 100, nlink: 1 });
      const start = figures(q);
      q.reserveFile();
      q.releaseFile();
      q.addEntry(DIRECTORY_CHARGE);
      q.removeEntry(DIRECTORY_CHARGE);
      q.addName('1:1', 100);
      q.removeName('1:1', 100);
      q.touched();
      expect(figures(q)).to.deep.equal(start);
    });

    it('charges a file open in two handles once, and settles with the disk at the last close', async function () {
      const q = await ledger.get('bob');
      q.reserveFile();
      q.openFile('1:1', 0, 1);
      q.openFile('1:1', 0, 1);
      q.growTo('1:1', 3 * KiB);
      q.growTo('1:1', 2 * KiB);
      expect(q.bytes).to.equal(3 * KiB);
      let closed = false;
      const waiting = q.whenClosed('1:1').then(() => (closed = true));
      q.closeFile('1:1', { size: KiB, nlink: 1 });
      await Promise.resolve();
      expect(closed).to.equal(false);
      expect(q.isOpen('1:1')).to.equal(true);
      q.closeFile('1:1', { size: KiB, nlink: 1 });
      await waiting;
      expect(q.isOpen('1:1')).to.equal(false);
      // A write that reserved 3 KiB left 1 KiB on the disk: the rest comes back.
      expect(figures(q)).to.deep.equal({ bytes: KiB, files: 1 });
    });

    it('applies new limits to the quota sessions already hold', async function () {
      const q = await ledger.get('bob');
      await store.users.setQuota('bob', 20 * KiB, 0);
      await ledger.refreshLimits('bob');
      expect(q.limits).to.deep.equal({ bytes: 20 * KiB, files: 0 });
    });
  });

  describe('rescan', function () {
    it('makes the usage what the home holds, an open file keeping its charge', async function () {
      const home = await homes.ensure('bob');
      await fsp.mkdir(path.join(home, 'd'));
      await fsp.writeFile(path.join(home, 'd', 'f'), Buffer.alloc(300));
      await fsp.symlink('d/f', path.join(home, 'l'));
      await fsp.writeFile(path.join(home, 'open'), Buffer.alloc(100));
      const key = fileKey(await fsp.stat(path.join(home, 'open')));
      const q = await ledger.get('bob');
      // A write reserved up to 1 KiB has not reached the disk yet.
      q.openFile(key, 100, 1);
      q.growTo(key, KiB);

      const scanned = await ledger.rescan('bob');
      const expected = { bytes: DIRECTORY_CHARGE + 300 + 'd/f'.length + KiB, files: 4 };
      expect(scanned).to.deep.equal(expected);
      expect(figures(await ledger.get('bob'))).to.deep.equal(expected);
      expect(await store.usage.get('bob')).to.include(expected);
      q.closeFile(key, { size: 100, nlink: 1 });
      expect(q.bytes).to.equal(expected.bytes - KiB + 100);
    });

    it('is kept in the store, from where a dropped user is loaded again', async function () {
      await fsp.writeFile(path.join(await homes.ensure('bob'), 'f'), Buffer.alloc(50));
      await ledger.rescan('bob');
      const old = await ledger.get('bob');
      ledger.drop('bob');
      const fresh = await ledger.get('bob');
      expect(fresh).to.not.equal(old);
      expect(figures(fresh)).to.deep.equal({ bytes: 50, files: 1 });
    });
  });
});
