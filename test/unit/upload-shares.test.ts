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
import { SqlGrantStore } from '../../src/store/grants';
import type { ExpiredLease } from '../../src/store/upload-share-types';
import { EscrowLedger } from '../../src/quota/escrow-ledger';
import { RecordingLogger } from '../helpers/fake-channel';
import { BackgroundMd5, type Md5State } from '../../src/uploads/background-md5';
import { postgresDatabase } from '../helpers/postgres';
import { waitUntil } from '../helpers/probe';
import { grantSettle } from '../helpers/quota';

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

  describe('the usage a holder gone mid-upload leaves', function () {
    let grants: SqlGrantStore;
    beforeEach(function () {
      grants = new SqlGrantStore(store);
    });

    /** A's lease of /up.bin (file 7:42), its charge of `size` bytes recorded by a settle. */
    async function uploading(size: number, leaseMs: number): Promise<void> {
      const t = await shares.takeLease('bob', '/up.bin', 'A', leaseMs, {
        key: '7:42',
        size: 0,
        opened: true,
      });
      expect(t.taken).to.equal(true);
      const r = await grants.settle(
        grantSettle({
          holder: 'A',
          deltaBytes: size,
          deltaFiles: 1,
          charges: [{ key: '7:42', size, names: 1 }],
        }),
      );
      expect(r.recorded).to.deep.equal(['7:42']);
    }

    async function expired(): Promise<ExpiredLease> {
      let found: ExpiredLease | undefined;
      await waitUntil('the lease runs out', async () => {
        found = (await shares.expiredLeases('B', 10))[0];
        return found !== undefined;
      });
      return found as ExpiredLease;
    }

    it('the sweep charges what the disk holds beyond the recorded charge, once, and ends the lease', async function () {
      await uploading(3 * MiB, 300);
      expect(await shares.expiredLeases('B', 10)).to.deep.equal([]);
      const lease = await expired();
      expect(lease).to.include({ user: 'bob', path: '/up.bin', holder: 'A', chargedSize: 3 * MiB });
      // The holder's own leases are never swept by itself.
      expect(await shares.expiredLeases('A', 10)).to.deep.equal([]);
      expect(await shares.settleExpired(lease, { key: '7:42', size: 5 * MiB })).to.equal(2 * MiB);
      expect(await store.usage.get('bob')).to.include({ bytes: 5 * MiB, files: 1 });
      // A second process that noticed it too changes nothing.
      expect(await shares.settleExpired(lease, { key: '7:42', size: 5 * MiB })).to.equal(undefined);
      expect(await store.usage.get('bob')).to.include({ bytes: 5 * MiB, files: 1 });
      expect(await shares.expiredLeases('B', 10)).to.deep.equal([]);
      expect(await shares.takeLease('bob', '/up.bin', 'B', 60_000)).to.include({ taken: true });
    });

    it('a holder thought dead that comes back commits its bytes once: the correction is taken back', async function () {
      await uploading(MiB, 300);
      const lease = await expired();
      expect(await shares.settleExpired(lease, { key: '7:42', size: 3 * MiB })).to.equal(2 * MiB);
      expect((await store.usage.get('bob')).bytes).to.equal(3 * MiB);
      // A was cut off from the store, not dead: it wrote up to 3.5 MiB and now settles it all.
      const back = await grants.settle(
        grantSettle({
          holder: 'A',
          deltaBytes: 2.5 * MiB,
          charges: [{ key: '7:42', size: 3.5 * MiB, names: 1 }],
        }),
      );
      expect(back.usageBytes).to.equal(3.5 * MiB);
      const again = await grants.settle(
        grantSettle({ holder: 'A', charges: [{ key: '7:42', size: 3.5 * MiB, names: 1 }] }),
      );
      expect(again.usageBytes).to.equal(3.5 * MiB);
      expect((await store.usage.get('bob')).bytes).to.equal(3.5 * MiB);
    });

    it('less on the disk than charged (writes reserved, never written) gives the difference back', async function () {
      await uploading(3 * MiB, 300);
      const lease = await expired();
      expect(await shares.settleExpired(lease, { key: '7:42', size: MiB })).to.equal(-2 * MiB);
      expect(await store.usage.get('bob')).to.include({ bytes: MiB, files: 1 });
    });

    it('a take-over corrects from the size the first opener found while the lease ran', async function () {
      await uploading(MiB, 300);
      // B opens the file (a resume with reput) while A's lease runs: it writes from 4 MiB on.
      const early = await shares.takeLease('bob', '/up.bin', 'B', 60_000, {
        key: '7:42',
        size: 4 * MiB,
        opened: true,
      });
      expect(early.taken).to.equal(false);
      // A resume only asking does not count as an opener.
      await shares.takeLease('bob', '/up.bin', 'C', 60_000, { key: '7:42', size: 2 * MiB });
      let taken: { taken: boolean; corrected?: number } = { taken: false };
      await waitUntil('the lease runs out', async () => {
        taken = await shares.takeLease('bob', '/up.bin', 'B', 60_000, {
          key: '7:42',
          size: 6 * MiB,
          opened: true,
        });
        return taken.taken;
      });
      expect(taken.corrected).to.equal(3 * MiB);
      expect((await store.usage.get('bob')).bytes).to.equal(4 * MiB);
      // B's own settles record its charge on the lease it now holds.
      const r = await grants.settle(
        grantSettle({
          holder: 'B',
          deltaBytes: 2 * MiB,
          charges: [{ key: '7:42', size: 6 * MiB, names: 1 }],
        }),
      );
      expect(r.recorded).to.deep.equal(['7:42']);
    });

    it('corrects nothing for another file at the path, or a charge never recorded', async function () {
      await uploading(MiB, 300);
      const lease = await expired();
      expect(await shares.settleExpired(lease, { key: '7:43', size: 9 * MiB })).to.equal(0);
      expect((await store.usage.get('bob')).bytes).to.equal(MiB);
      expect(await shares.expiredLeases('B', 10)).to.deep.equal([]);

      // A lease whose holder never settled with the file open is not swept, and a take-over
      // leaves the usage alone.
      await shares.takeLease('bob', '/new.bin', 'A', 300, { key: '7:50', size: 0, opened: true });
      const none = await grants.settle(
        grantSettle({ holder: 'A', charges: [{ key: '7:51', size: MiB, names: 1 }] }),
      );
      expect(none.recorded).to.deep.equal([]);
      let taken: { taken: boolean; corrected?: number } = { taken: false };
      await waitUntil('the lease runs out', async () => {
        taken = await shares.takeLease('bob', '/new.bin', 'B', 60_000, {
          key: '7:50',
          size: 5 * MiB,
          opened: true,
        });
        return taken.taken;
      });
      expect(taken.corrected).to.equal(undefined);
      expect((await store.usage.get('bob')).bytes).to.equal(MiB);
    });

    it('a lease given back before the settle that commits the close stays until that settle', async function () {
      await uploading(MiB, 60_000);
      // The close found 3 MiB; the usage counts 1 MiB until the holder's next settle.
      await shares.releaseLease('bob', '/up.bin', 'A', 3 * MiB);
      const row = async (): Promise<{ released: number | string } | undefined> =>
        store.sql.get<{ released: number | string }>(
          'SELECT released FROM upload_leases WHERE path = $1',
          ['/up.bin'],
        );
      expect(Number((await row())?.released)).to.equal(1);
      await grants.settle(
        grantSettle({
          holder: 'A',
          deltaBytes: 2 * MiB,
          charges: [{ key: '7:42', size: 3 * MiB, names: 1, closed: true }],
        }),
      );
      expect(await row()).to.equal(undefined);
      expect((await store.usage.get('bob')).bytes).to.equal(3 * MiB);

      // Given back once the settle had committed the close: gone at once.
      await shares.takeLease('bob', '/two.bin', 'A', 60_000, {
        key: '7:60',
        size: 0,
        opened: true,
      });
      await grants.settle(
        grantSettle({
          holder: 'A',
          deltaBytes: MiB,
          charges: [{ key: '7:60', size: MiB, names: 1 }],
        }),
      );
      await shares.releaseLease('bob', '/two.bin', 'A', MiB);
      expect(await store.sql.get('SELECT path FROM upload_leases')).to.equal(undefined);
    });

    it('a lease given back whose holder died before its next settle is corrected; a live one is taken at once', async function () {
      await uploading(MiB, 300);
      await shares.releaseLease('bob', '/up.bin', 'A', 3 * MiB);
      const lease = await expired();
      expect(await shares.settleExpired(lease, { key: '7:42', size: 3 * MiB })).to.equal(2 * MiB);
      expect((await store.usage.get('bob')).bytes).to.equal(3 * MiB);

      // Its holder alive (the lease runs): another takes it at once and corrects nothing.
      await shares.takeLease('bob', '/b.bin', 'A', 60_000, { key: '7:70', size: 0, opened: true });
      await grants.settle(
        grantSettle({
          holder: 'A',
          deltaBytes: MiB,
          charges: [{ key: '7:70', size: MiB, names: 1 }],
        }),
      );
      await shares.releaseLease('bob', '/b.bin', 'A', 2 * MiB);
      const b = await shares.takeLease('bob', '/b.bin', 'B', 60_000, {
        key: '7:70',
        size: 2 * MiB,
        opened: true,
      });
      expect(b).to.include({ taken: true });
      expect(b.corrected).to.equal(undefined);
      expect((await store.usage.get('bob')).bytes).to.equal(4 * MiB);
    });

    it("an escrow ledger's settles keep the charge of each file it has open on the file's lease", async function () {
      await store.users.setQuota('bob', 100 * MiB);
      const ledger = new EscrowLedger({
        store,
        grants,
        logger: new RecordingLogger(),
        scanHome: () => Promise.resolve({ bytes: 0, files: 0, open: new Map(), unreadable: [] }),
        holder: 'A',
        leaseMs: 60_000,
      });
      const u = await ledger.get('bob');
      await shares.takeLease('bob', '/up.bin', 'A', 60_000, { key: '7:42', size: 0, opened: true });
      u.reserveFile();
      u.openFile('7:42', 0, 1);
      for (let end = 256 * 1024; end <= 2 * MiB; end += 256 * 1024) {
        for (;;) {
          try {
            u.growTo('7:42', end);
            break;
          } catch (err) {
            const pending = (err as { pending?: Promise<void> }).pending;
            if (!pending) throw err;
            await pending;
          }
        }
      }
      await u.settle();
      const row = await store.sql.get<{ charged: number | string; charged_size: number | string }>(
        'SELECT charged, charged_size FROM upload_leases WHERE path = $1',
        ['/up.bin'],
      );
      expect(Number(row?.charged)).to.equal(1);
      expect(Number(row?.charged_size)).to.equal(2 * MiB);
      expect(await store.usage.get('bob')).to.include({ bytes: 2 * MiB, files: 1 });
      await ledger.stop();
    });
  });
}
