/**
 * Escrow grants of quota in the store, and the ledger that answers checks
 * from them: two ledgers (two holders, as two processes) on one database.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { MiniftpError } from '../../src/errors';
import { EscrowLedger } from '../../src/quota/escrow-ledger';
import { QuotaExceeded, type ScanHome } from '../../src/quota/quota-ledger';
import type { SharedUsage } from '../../src/quota/shared-usage';
import { SqlGrantStore, fit } from '../../src/store/grants';
import { openPostgresStore, openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import { RecordingLogger } from '../helpers/fake-channel';
import { postgresDatabase } from '../helpers/postgres';
import { waitUntil } from '../helpers/probe';
import { grantSettle } from '../helpers/quota';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Nothing on disk: the ledgers' rescans are not what these tests look at. */
const emptyHome: ScanHome = () =>
  Promise.resolve({ bytes: 0, files: 0, open: new Map(), unreadable: [] });

/** Grows the open file `key` by `step` until the quota refuses for good; waits on pending top-ups as a WRITE does. */
async function fill(u: SharedUsage, key: string, step: number): Promise<number> {
  u.openFile(key, 0, 1);
  let end = 0;
  for (;;) {
    try {
      u.growTo(key, end + step);
      end += step;
    } catch (err) {
      if (!(err instanceof QuotaExceeded)) throw err;
      if (err.pending === undefined) return end;
      await err.pending;
    }
  }
}

describe('escrow grants', function () {
  describe('fit', function () {
    it('takes what the holder added from its grant, then adds what is wanted of what is free', function () {
      expect(
        fit({ held: 10, delta: 4, want: 0, release: false, room: 100, limit: 200 }),
      ).to.deep.equal({ grant: 6, free: 94 });
      expect(
        fit({ held: 10, delta: -4, want: 0, release: false, room: 100, limit: 200 }),
      ).to.deep.equal({ grant: 10, free: 90 });
      expect(
        fit({ held: 0, delta: 0, want: 50, release: false, room: 30, limit: 200 }),
      ).to.deep.equal({ grant: 30, free: 0 });
    });

    it('trims a grant the limit no longer leaves room for, gives all back on release, and none when unlimited', function () {
      expect(
        fit({ held: 50, delta: 0, want: 10, release: false, room: 20, limit: 80 }),
      ).to.deep.equal({ grant: 20, free: 0 });
      expect(
        fit({ held: 50, delta: 0, want: 0, release: false, room: -5, limit: 80 }),
      ).to.deep.equal({ grant: 0, free: 0 });
      expect(
        fit({ held: 50, delta: 0, want: 10, release: true, room: 100, limit: 200 }),
      ).to.deep.equal({ grant: 0, free: 100 });
      expect(
        fit({ held: 50, delta: 0, want: 10, release: false, room: 0, limit: 0 }),
      ).to.deep.equal({ grant: 0, free: 0 });
    });
  });

  describe('on SQLite shared by two holders', function () {
    grantBehaviour((dir) => openStore({ file: path.join(dir, 'miniftp.db'), shared: true }));
  });

  describe('on PostgreSQL shared by two holders', function () {
    grantBehaviour(async () =>
      openPostgresStore({ url: await postgresDatabase(), poolSize: 4, timeoutMs: 10_000 }),
    );
  });
});

/** What the grants of any store must do; `open` gets a fresh temporary directory. */
function grantBehaviour(open: (dir: string) => Promise<Store>): void {
  let dir: string;
  let store: Store;
  let grants: SqlGrantStore;

  beforeEach(async function () {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-grants-'));
    store = await open(dir);
    await store.users.create({
      name: 'bob',
      passwordHash: 'x',
      quotaBytes: 10 * MiB,
      quotaFiles: 100,
      isAdmin: false,
    });
    grants = new SqlGrantStore(store);
  });

  afterEach(async function () {
    await store.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('never grants more than the limit leaves, and commits what a holder wrote', async function () {
    const a = await grants.settle(grantSettle({ holder: 'A', wantBytes: 6 * MiB, wantFiles: 60 }));
    expect(a).to.include({ grantBytes: 6 * MiB, freeBytes: 4 * MiB, grantFiles: 60 });
    const b = await grants.settle(grantSettle({ holder: 'B', wantBytes: 6 * MiB, wantFiles: 60 }));
    expect(b).to.include({ grantBytes: 4 * MiB, freeBytes: 0, grantFiles: 40, freeFiles: 0 });

    const a2 = await grants.settle(
      grantSettle({ holder: 'A', deltaBytes: 5 * MiB, deltaFiles: 2 }),
    );
    expect(a2).to.include({
      usageBytes: 5 * MiB,
      usageFiles: 2,
      grantBytes: MiB,
      grantFiles: 58,
    });
    expect(await store.usage.get('bob')).to.include({ bytes: 5 * MiB, files: 2 });

    // What A gives back by removing files is free for anyone, not kept by A.
    const a3 = await grants.settle(
      grantSettle({ holder: 'A', deltaBytes: -2 * MiB, release: true }),
    );
    expect(a3).to.include({ usageBytes: 3 * MiB, grantBytes: 0, freeBytes: 3 * MiB });
  });

  it("returns a holder's grant once its lease has run out", async function () {
    await grants.settle(grantSettle({ holder: 'A', wantBytes: 10 * MiB, leaseMs: 300 }));
    const before = await grants.settle(grantSettle({ holder: 'B', wantBytes: MiB }));
    expect(before.grantBytes).to.equal(0);
    await waitUntil('the lease runs out', async () => {
      const r = await grants.settle(grantSettle({ holder: 'B', wantBytes: 10 * MiB }));
      return r.grantBytes === 10 * MiB;
    });
    // A comes back late: its old grant is gone, whatever it believed.
    const late = await grants.settle(grantSettle({ holder: 'A', wantBytes: MiB }));
    expect(late).to.include({ grantBytes: 0, freeBytes: 0 });
  });

  it('takes back what a lowered limit no longer leaves room for', async function () {
    await grants.settle(grantSettle({ holder: 'A', wantBytes: 8 * MiB }));
    await store.users.setQuota('bob', 3 * MiB);
    const r = await grants.settle(grantSettle({ holder: 'A' }));
    expect(r).to.include({ limitBytes: 3 * MiB, grantBytes: 3 * MiB, freeBytes: 0 });
  });

  it('refuses a settle for a user that is gone', async function () {
    await store.users.delete('bob');
    let caught: unknown;
    try {
      await grants.settle(grantSettle({ holder: 'A', wantBytes: 1 }));
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(MiniftpError);
    expect((caught as MiniftpError).kind).to.equal('not-found');
  });

  it('two ledgers racing to fill the quota together take exactly the limit, and the store counts it', async function () {
    const ledger = (holder: string): EscrowLedger =>
      new EscrowLedger({
        store,
        grants,
        logger: new RecordingLogger(),
        scanHome: emptyHome,
        holder,
        leaseMs: 60_000,
        refreshMs: 100,
      });
    const [a, b] = [ledger('A'), ledger('B')];
    a.start();
    b.start();
    const [ua, ub] = await Promise.all([a.get('bob'), b.get('bob')]);
    const [fa, fb] = await Promise.all([fill(ua, '1:1', 64 * KiB), fill(ub, '1:2', 48 * KiB)]);
    ua.closeFile('1:1', { size: fa, nlink: 1 });
    ub.closeFile('1:2', { size: fb, nlink: 1 });
    await Promise.all([a.stop(), b.stop()]);
    expect(fa + fb).to.be.at.most(10 * MiB);
    // Each stops only when what its grant still holds is less than its step and nothing is free.
    expect(fa + fb).to.be.above(10 * MiB - 64 * KiB - 48 * KiB);
    expect((await store.usage.get('bob')).bytes).to.equal(fa + fb);
    const r = await grants.settle(grantSettle({ holder: 'C' }));
    expect(r.freeBytes).to.equal(10 * MiB - fa - fb);
  });
}
