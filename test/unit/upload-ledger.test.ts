/**
 * The upload ledger on real files: uploads of at least 1 MiB that go forward
 * from offset 0 end with a record of their MD5, whether their writes finish in
 * order or not and whether the bytes are hashed by the background thread or,
 * for a descriptor it cannot read, on the event loop. Anything else (a rewrite,
 * a gap, a file opened on existing bytes) leaves no record.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { UserUsage } from '../../src/quota/user-usage';
import { openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import { Jail } from '../../src/vfs/jail';
import { UploadLedger } from '../../src/uploads/upload-ledger';
import { HashPool } from '../../src/vfs/hash-pool';
import { UserFs, type OpenRequest } from '../../src/vfs/user-fs';

const MiB = 1024 * 1024;
const WRITE: OpenRequest = {
  read: false,
  write: true,
  append: false,
  create: true,
  truncate: true,
  exclusive: false,
};

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

describe('upload ledger', function () {
  let root: string;
  let store: Store;
  let ledger: UploadLedger;
  let hashing: HashPool;
  let userFs: UserFs;

  beforeEach(async function () {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-ledger-'));
    store = await openStore({ file: ':memory:' });
    await store.users.create({
      name: 'u',
      passwordHash: 'x',
      quotaBytes: 0,
      quotaFiles: 0,
      isAdmin: false,
    });
    hashing = new HashPool({ threads: 1, maxJobsPerUser: 16 });
    ledger = new UploadLedger(store, hashing);
    userFs = new UserFs({
      jail: new Jail(root),
      usage: new UserUsage('u', 0, 0, { bytes: 0, files: 0 }),
      uploads: ledger,
    });
  });

  afterEach(async function () {
    await ledger.close();
    await hashing.close();
    await store.close();
    await fsp.rm(root, { recursive: true, force: true });
  });

  /** Writes `data` in `chunk`-sized WRITEs, all in flight at once (they may finish in any order). */
  async function upload(name: string, data: Buffer, chunk: number): Promise<void> {
    const file = await userFs.open(name, WRITE);
    const writes: Array<Promise<void>> = [];
    for (let at = 0; at < data.length; at += chunk)
      writes.push(file.write(at, data.subarray(at, Math.min(at + chunk, data.length))));
    await Promise.all(writes);
    await file.close();
  }

  it('records the MD5 of a 3 MiB upload whose writes run concurrently', async function () {
    const data = randomBytes(3 * MiB + 123);
    await upload('/a.bin', data, 32 * 1024);
    await ledger.settled('u', '/a.bin');
    const rec = await store.uploads.get('u', '/a.bin');
    expect(rec?.md5).to.equal(md5(data));
    expect(rec?.bytes).to.equal(data.length);
  });

  it('records the prefix of an upload cut off mid-way, as a dropped connection leaves it', async function () {
    const data = randomBytes(4 * MiB);
    const file = await userFs.open('/cut.bin', WRITE);
    for (let at = 0; at < 2 * MiB + 5000; at += 100_000)
      await file.write(at, data.subarray(at, Math.min(at + 100_000, 2 * MiB + 5000)));
    await file.close();
    await ledger.settled('u', '/cut.bin');
    expect((await store.uploads.get('u', '/cut.bin'))?.md5).to.equal(
      md5(data.subarray(0, 2 * MiB + 5000)),
    );
  });

  it('hashes on the event loop when the descriptor cannot be read', async function () {
    const fd = fs.openSync(path.join(root, 'w.bin'), 'w');
    const observer = ledger.observe('u', '/w.bin', {
      truncated: true,
      size: 0,
      key: '0:0',
      sizeFound: 0,
      fd,
      fdReadable: false,
    });
    expect(observer).to.not.equal(undefined);
    const data = randomBytes(2 * MiB);
    for (let at = 0; at < data.length; at += MiB) {
      const part = data.subarray(at, at + MiB);
      observer?.beforeWrite(at, part);
      fs.writeSync(fd, part, 0, part.length, at);
      observer?.written(at, part.length);
    }
    await observer?.settle();
    const st = fs.fstatSync(fd);
    fs.closeSync(fd);
    observer?.closed(st.size, st.mtimeMs);
    await ledger.settled('u', '/w.bin');
    expect((await store.uploads.get('u', '/w.bin'))?.md5).to.equal(md5(data));
  });

  it('starts over after a truncate to 0 and records only the new content', async function () {
    const first = randomBytes(2 * MiB);
    const second = randomBytes(MiB + 77);
    const file = await userFs.open('/t.bin', WRITE);
    await file.write(0, first);
    await file.truncate(0);
    await file.write(0, second);
    await file.close();
    await ledger.settled('u', '/t.bin');
    expect((await store.uploads.get('u', '/t.bin'))?.md5).to.equal(md5(second));
  });

  it('keeps no record after a rewrite of bytes already written', async function () {
    const data = randomBytes(2 * MiB);
    const file = await userFs.open('/r.bin', WRITE);
    await file.write(0, data);
    await file.write(MiB, data.subarray(0, 1000));
    await file.close();
    await ledger.settled('u', '/r.bin');
    expect(await store.uploads.get('u', '/r.bin')).to.equal(undefined);
  });

  it('keeps no record for a file opened on existing bytes (append or resume)', async function () {
    const data = randomBytes(2 * MiB);
    await upload('/e.bin', data.subarray(0, MiB), 64 * 1024);
    await ledger.settled('u', '/e.bin');
    await store.uploads.delete('u', '/e.bin');
    const file = await userFs.open('/e.bin', { ...WRITE, truncate: false });
    await file.write(MiB, data.subarray(MiB));
    await file.close();
    await ledger.settled('u', '/e.bin');
    expect(await store.uploads.get('u', '/e.bin')).to.equal(undefined);
    expect(md5(await fsp.readFile(path.join(root, 'e.bin')))).to.equal(md5(data));
  });

  it('follows renames and removals of recorded files', async function () {
    const data = randomBytes(2 * MiB);
    await upload('/part.tmp', data, 256 * 1024);
    await fsp.mkdir(path.join(root, 'dir'));
    await fsp.rename(path.join(root, 'part.tmp'), path.join(root, 'dir', 'final.bin'));
    ledger.pathMoved('u', '/part.tmp', '/dir/final.bin');
    ledger.pathMoved('u', '/dir', '/moved');
    await fsp.rename(path.join(root, 'dir'), path.join(root, 'moved'));
    const st = await fsp.stat(path.join(root, 'moved', 'final.bin'));
    expect((await ledger.current('u', '/moved/final.bin', st))?.md5).to.equal(md5(data));
    expect(await ledger.current('u', '/part.tmp', st)).to.equal(undefined);
    ledger.pathGone('u', '/moved/final.bin');
    expect(await ledger.current('u', '/moved/final.bin', st)).to.equal(undefined);
    await ledger.settled('u', '/');
    expect(await store.uploads.paths('u')).to.deep.equal([]);
  });

  it('after a CLOSE, finishes the digest in the background and records it', async function () {
    const data = randomBytes(3 * MiB);
    const file = await userFs.open('/later.bin', WRITE);
    await file.write(0, data);
    await file.close({ handOff: true });
    await ledger.settled('u', '/later.bin');
    expect((await store.uploads.get('u', '/later.bin'))?.md5).to.equal(md5(data));
  });

  it('records a background digest under the name the file was renamed to meanwhile', async function () {
    const data = randomBytes(2 * MiB);
    const file = await userFs.open('/up.filepart', WRITE);
    await file.write(0, data);
    await file.close({ handOff: true });
    await fsp.rename(path.join(root, 'up.filepart'), path.join(root, 'up.bin'));
    ledger.pathMoved('u', '/up.filepart', '/up.bin');
    await ledger.settled('u', '/up.bin');
    expect((await store.uploads.get('u', '/up.bin'))?.md5).to.equal(md5(data));
    expect(await store.uploads.get('u', '/up.filepart')).to.equal(undefined);
  });

  it('drops a background digest when its file is removed meanwhile', async function () {
    const file = await userFs.open('/gone.bin', WRITE);
    await file.write(0, randomBytes(2 * MiB));
    await file.close({ handOff: true });
    ledger.pathGone('u', '/gone.bin');
    await ledger.settled('u', '/gone.bin');
    expect(await store.uploads.get('u', '/gone.bin')).to.equal(undefined);
  });

  it('keeps a record current when SETSTAT only changes the times, before or after the digest is done', async function () {
    const data = randomBytes(2 * MiB);
    const when = Math.floor(Date.now() / 1000) - 7200;
    for (const name of ['/t1.bin', '/t2.bin']) {
      const file = await userFs.open(name, WRITE);
      await file.write(0, data);
      await file.close({ handOff: true });
      // t1: the digest is done first; t2: the times change while it may still run.
      if (name === '/t1.bin') await ledger.settled('u', name);
      await userFs.setAttrs(name, { atime: when, mtime: when }, { follow: true });
      await ledger.settled('u', name);
      const st = await fsp.stat(path.join(root, name));
      expect((await ledger.current('u', name, st))?.md5, name).to.equal(md5(data));
    }
    // A size change is no times-only change: the record no longer describes the file.
    await userFs.setAttrs('/t1.bin', { size: 10, atime: when, mtime: when }, { follow: true });
    const st = await fsp.stat(path.join(root, 't1.bin'));
    expect(await ledger.current('u', '/t1.bin', st)).to.equal(undefined);
  });

  it('opens write-only uploads read-write for the hashing thread, yet refuses READ on them', async function () {
    const file = await userFs.open('/wo.bin', WRITE);
    await file.write(0, Buffer.from('secret'));
    let refused: unknown;
    try {
      await file.read(0, 6, Buffer.alloc(6), 0);
    } catch (err) {
      refused = err;
    }
    await file.close();
    expect(String(refused)).to.match(/not opened for reading/);
  });
});
