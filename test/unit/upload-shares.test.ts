/**
 * What lets an upload resume in another process: writer leases and MD5
 * checkpoints in the store, and the hashing thread's checkpoints, which
 * another process continues to the same digest as one pass over the file.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { createMD5 } from 'hash-wasm';
import { openPostgresStore, openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import { SqlUploadShareStore } from '../../src/store/upload-shares';
import { BackgroundMd5, type Md5State } from '../../src/uploads/background-md5';
import { postgresDatabase } from '../helpers/postgres';
import { waitUntil } from '../helpers/probe';

const MiB = 1024 * 1024;

describe('uploads shared between processes', function () {
  describe('writer leases and checkpoints in the store (SQLite)', function () {
    shareBehaviour((dir) => openStore({ file: path.join(dir, 'miniftp.db'), shared: true }));
  });

  describe('writer leases and checkpoints in the store (PostgreSQL)', function () {
    shareBehaviour(async () =>
      openPostgresStore({ url: await postgresDatabase(), poolSize: 4, timeoutMs: 10_000 }),
    );
  });

  describe('the hashing thread keeps checkpoints', function () {
    let dir: string;
    let bg: BackgroundMd5;

    beforeEach(function () {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniftp-md5cp-'));
      bg = new BackgroundMd5();
    });

    afterEach(async function () {
      await bg.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('saves the state every N bytes, and a state continued over the rest gives the whole file’s MD5', async function () {
      const data = randomBytes(3 * MiB + 1000);
      const file = path.join(dir, 'f.bin');
      fs.writeFileSync(file, data);
      const whole = createHash('md5').update(data).digest('hex');
      const fd = fs.openSync(file, 'r');
      try {
        const saved: Md5State[] = [];
        const id = bg.open(fd, MiB + 10, { every: MiB, onCheckpoint: (c) => saved.push(c) });
        expect(id).to.not.equal(undefined);
        bg.extend(id as number, data.length);
        const reply = await bg.finish(id as number, true);
        expect(reply).to.include({ md5: whole, bytes: data.length });
        expect(saved.map((c) => c.bytes)).to.deep.equal([MiB, 2 * MiB, 3 * MiB]);

        // Another process loads the state at 2 MiB and hashes only the tail.
        const at2 = saved[1] as Md5State;
        const md5 = await createMD5();
        md5.load(at2.state);
        md5.update(data.subarray(at2.bytes));
        expect(md5.digest('hex')).to.equal(whole);

        // The thread goes on from a saved state too.
        const from = saved[0] as Md5State;
        const again = bg.open(fd, data.length, { every: MiB, from, onCheckpoint: () => undefined });
        expect(await bg.finish(again as number, true)).to.include({
          md5: whole,
          bytes: data.length,
        });
      } finally {
        fs.closeSync(fd);
      }
    });
  });
});

/** What the leases and checkpoints of any store must do; `open` gets a fresh temporary directory. */
function shareBehaviour(open: (dir: string) => Promise<Store>): void {
  let dir: string;
  let store: Store;
  let shares: SqlUploadShareStore;

  beforeEach(async function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniftp-shares-'));
    store = await open(dir);
    await store.users.create({
      name: 'bob',
      passwordHash: 'x',
      quotaBytes: 0,
      quotaFiles: 0,
      isAdmin: false,
    });
    shares = new SqlUploadShareStore(store);
  });

  afterEach(async function () {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('gives a file one writer: others are told who holds it until it is given back', async function () {
    expect(await shares.takeLease('bob', '/a.bin', 'A', 60_000)).to.include({ taken: true });
    const b = await shares.takeLease('bob', '/a.bin', 'B', 60_000);
    expect(b).to.include({ taken: false, holder: 'A' });
    expect(b.expiresInMs).to.be.above(0);
    // Its holder renews it; another file is free.
    expect(await shares.takeLease('bob', '/a.bin', 'A', 60_000)).to.include({ taken: true });
    expect(await shares.takeLease('bob', '/b.bin', 'B', 60_000)).to.include({ taken: true });
    await shares.releaseLease('bob', '/a.bin', 'B');
    expect(await shares.takeLease('bob', '/a.bin', 'B', 60_000)).to.include({ taken: false });
    await shares.releaseLease('bob', '/a.bin', 'A');
    expect(await shares.takeLease('bob', '/a.bin', 'B', 60_000)).to.include({ taken: true });
  });

  it('lets another take the lease over once its holder stopped renewing it', async function () {
    await shares.takeLease('bob', '/a.bin', 'A', 300);
    await waitUntil(
      'the lease runs out',
      async () => (await shares.takeLease('bob', '/a.bin', 'B', 60_000)).taken,
    );
    // Renewing the leases of A no longer touches what B took over.
    await shares.renewLeases('A', 60_000);
    expect(await shares.takeLease('bob', '/a.bin', 'A', 60_000)).to.include({ taken: false });
  });

  it('keeps the last checkpoint of a path, and forgets a directory with what is below it', async function () {
    const state = Uint8Array.from([1, 2, 3, 250]);
    await shares.putCheckpoint('bob', '/d/a.bin', { bytes: MiB, state });
    await shares.putCheckpoint('bob', '/d/a.bin', { bytes: 2 * MiB, state });
    await shares.putCheckpoint('bob', '/d%/b.bin', { bytes: MiB, state });
    const got = await shares.getCheckpoint('bob', '/d/a.bin');
    expect(got?.bytes).to.equal(2 * MiB);
    expect([...(got?.state ?? [])]).to.deep.equal([1, 2, 3, 250]);
    await shares.dropCheckpoints('bob', '/d');
    expect(await shares.getCheckpoint('bob', '/d/a.bin')).to.equal(undefined);
    // '%' is a file name character, not a pattern.
    expect(await shares.getCheckpoint('bob', '/d%/b.bin')).to.not.equal(undefined);
  });
}
