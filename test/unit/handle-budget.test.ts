/**
 * The handle and listing budgets, how the open-files limit is shared out,
 * how it is read from /proc, and the batch reader behind READDIR.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { MiniftpError } from '../../src/errors';
import { HandleBudget, planDescriptors } from '../../src/sftp/handle-budget';
import {
  parseOpenFilesLimit,
  raiseOpenFilesLimit,
  readOpenFilesLimit,
} from '../../src/server/open-files';
import { execFileSync } from 'node:child_process';
import { DirListing, type DirEntry } from '../../src/vfs/dir-listing';

function limitError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(MiniftpError);
    expect((err as MiniftpError).kind).to.equal('limit');
    return (err as MiniftpError).message;
  }
  throw new Error('expected a limit error');
}

describe('handle budget', function () {
  it("counts a user's handles over all their sessions, and all users' against the total", function () {
    const budget = new HandleBudget({ perUser: 2, total: 3, listingBytes: 0 });
    const a1 = budget.takeHandle('a');
    budget.takeHandle('a');
    expect(limitError(() => budget.takeHandle('a'))).to.equal(
      'too many open handles for this user across all sessions (limit 2)',
    );
    budget.takeHandle('b');
    expect(limitError(() => budget.takeHandle('c'))).to.equal(
      'the server has reached its limit of open files (3); try again later',
    );
    expect(budget.usage()).to.deep.equal({ handles: 3, perUser: { a: 2, b: 1 }, listingBytes: 0 });
    // A release given twice counts once.
    a1();
    a1();
    expect(budget.usage().perUser).to.deep.equal({ a: 1, b: 1 });
    budget.takeHandle('c');
    expect(budget.usage().handles).to.equal(3);
  });

  it('refuses listing memory over its limit and takes it back on release', function () {
    const budget = new HandleBudget({ perUser: 0, total: 0, listingBytes: 100 });
    const first = budget.takeListing(60);
    expect(limitError(() => budget.takeListing(50))).to.equal(
      'the server has reached its limit of memory for directory listings; try again later',
    );
    first();
    first();
    budget.takeListing(100);
    expect(budget.usage().listingBytes).to.equal(100);
  });

  it('refuses nothing when unlimited', function () {
    const budget = HandleBudget.unlimited();
    for (let i = 0; i < 1000; i++) budget.takeHandle('a');
    budget.takeListing(2 ** 40);
    expect(budget.usage().handles).to.equal(1000);
  });
});

describe('planDescriptors', function () {
  it('keeps 64 and two per connection in reserve and gives a user an eighth of the rest', function () {
    expect(planDescriptors(20000, { reserved: 0, perUser: 0, maxConnections: 200 })).to.deep.equal({
      reserve: 464,
      total: 19536,
      perUser: 2442,
      reserveCut: false,
    });
  });

  it('takes the configured reserve and per-user budget, the latter at most the total', function () {
    expect(
      planDescriptors(4096, { reserved: 1000, perUser: 100, maxConnections: 200 }),
    ).to.deep.equal({ reserve: 1000, total: 3096, perUser: 100, reserveCut: false });
    expect(
      planDescriptors(4096, { reserved: 96, perUser: 9999, maxConnections: 1 }).perUser,
    ).to.equal(4000);
  });

  it('cuts the reserve to half a small limit, and says so', function () {
    expect(planDescriptors(256, { reserved: 0, perUser: 0, maxConnections: 200 })).to.deep.equal({
      reserve: 128,
      total: 128,
      perUser: 16,
      reserveCut: true,
    });
  });
});

describe('open-files limit', function () {
  const limits = (soft: string, hard: string): string =>
    [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max processes             95432                95432                processes ',
      `Max open files            ${soft.padEnd(20)} ${hard.padEnd(20)} files     `,
      'Max locked memory         8388608              8388608              bytes     ',
    ].join('\n');

  it('reads the soft and hard limits from /proc/<pid>/limits', function () {
    expect(parseOpenFilesLimit(limits('1024', '4096'))).to.deep.equal({ soft: 1024, hard: 4096 });
    expect(parseOpenFilesLimit(limits('1024', 'unlimited'))).to.deep.equal({
      soft: 1024,
      hard: Infinity,
    });
    expect(parseOpenFilesLimit('Max processes 1 1 processes')).to.equal(undefined);
  });

  it('raises a soft limit below the hard one to it, with util-linux prlimit', function () {
    const now = readOpenFilesLimit();
    if (process.platform !== 'linux' || !Number.isFinite(now.hard)) this.skip();
    // One below the hard limit: this process holds far fewer descriptors.
    try {
      execFileSync('prlimit', [
        '--pid',
        String(process.pid),
        `--nofile=${now.hard - 1}:${now.hard}`,
      ]);
    } catch {
      this.skip();
    }
    expect(readOpenFilesLimit().soft).to.equal(now.hard - 1);
    const raised = raiseOpenFilesLimit();
    expect(raised).to.deep.equal({ soft: now.hard, hard: now.hard, before: now.hard - 1 });
    expect(readOpenFilesLimit().soft).to.equal(now.hard);
  });

  it("finds this process's limit, the soft one raised to the hard one by Node.js", function () {
    if (process.platform !== 'linux') this.skip();
    const now = readOpenFilesLimit();
    expect(now.soft).to.be.greaterThan(0);
    // Node.js raises the soft limit to the hard one, or as far as it can below "unlimited".
    if (Number.isFinite(now.hard)) expect(now.soft).to.equal(now.hard);
  });
});

describe('DirListing', function () {
  let dir: string;

  before(async function () {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-dirlisting-'));
    for (let i = 0; i < 10; i++) await fsp.writeFile(path.join(dir, `f${i}`), '');
  });

  after(async function () {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  async function open(): Promise<DirListing> {
    const stat = async (names: string[]): Promise<DirEntry[]> => {
      const out: DirEntry[] = [];
      for (const name of names) {
        const stats = await fsp.lstat(path.join(dir, name)).catch(() => undefined);
        if (stats) out.push({ name, stats });
      }
      return out;
    };
    return new DirListing(await fsp.opendir(dir, { bufferSize: 4 }), stat);
  }

  it('gives ".", "..", then each name once, in batches bounded by count and by bytes', async function () {
    const listing = await open();
    const first = await listing.next({ names: 3, bytes: 1000, cost: () => 1 });
    expect(first?.map((e) => e.name).slice(0, 2)).to.deep.equal(['.', '..']);
    expect(first).to.have.length(3);
    // Two fit in 25 bytes at 10 each; the first of a batch is taken whatever it costs.
    expect(await listing.next({ names: 100, bytes: 25, cost: () => 10 })).to.have.length(2);
    expect(await listing.next({ names: 100, bytes: 5, cost: () => 10 })).to.have.length(1);
    const rest = await listing.next({ names: 100, bytes: 10000, cost: () => 1 });
    expect(rest).to.have.length(6);
    expect(await listing.next({ names: 100, bytes: 10000, cost: () => 1 })).to.equal(undefined);
    await listing.close();
    await listing.close();
  });

  it('skips names removed after they were read, and goes on to the next batch', async function () {
    const gone = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-dirlisting-gone-'));
    for (let i = 0; i < 5; i++) await fsp.writeFile(path.join(gone, `g${i}`), '');
    const stats = await fsp.lstat(gone);
    const listing = new DirListing(await fsp.opendir(gone, { bufferSize: 32 }), async (names) => {
      // Every g* vanished between readdir and lstat; "." and ".." are there.
      return names.filter((n) => !n.startsWith('g')).map((name) => ({ name, stats }));
    });
    const batch = await listing.next({ names: 2, bytes: 1000, cost: () => 1 });
    expect(batch?.map((e) => e.name)).to.deep.equal(['.', '..']);
    expect(await listing.next({ names: 2, bytes: 1000, cost: () => 1 })).to.equal(undefined);
    await listing.close();
    await fsp.rm(gone, { recursive: true, force: true });
  });

  it('closes once a batch being read is done, and reads nothing after', async function () {
    const listing = await open();
    const reading = listing.next({ names: 100, bytes: 10000, cost: () => 1 });
    const closing = listing.close();
    expect(await reading).to.have.length(12);
    await closing;
    expect(await listing.next({ names: 100, bytes: 10000, cost: () => 1 })).to.equal(undefined);
  });
});
