/**
 * The hashing pool: the same digests as hashing on the event loop, users
 * served in turn, a limit of jobs per user, and jobs dropped when their
 * signal aborts (waiting or running).
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { MiniftpError } from '../../src/errors';
import { UserUsage } from '../../src/quota/user-usage';
import { HashPool } from '../../src/vfs/hash-pool';
import { HASH_ALGORITHMS, digestRange, type RangeDigestOptions } from '../../src/vfs/hashing';
import { Jail } from '../../src/vfs/jail';
import { UserFs } from '../../src/vfs/user-fs';
import type { VFile } from '../../src/vfs/vfile';

const MiB = 1024 * 1024;

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('hashing pool', function () {
  let root: string;
  let fs: UserFs;
  let pool: HashPool;
  const open: VFile[] = [];

  async function file(name: string): Promise<VFile> {
    const f = await fs.openForReading(`/${name}`);
    open.push(f);
    return f;
  }

  before(async function () {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-hash-pool-'));
    fs = new UserFs({
      jail: new Jail(root),
      usage: new UserUsage('u', 0, 0, { bytes: 0, files: 0 }),
    });
    await fsp.writeFile(path.join(root, 'random.bin'), randomBytes(2 * MiB + 777));
    await fsp.writeFile(path.join(root, 'empty.bin'), '');
    await fsp.writeFile(path.join(root, 'small.bin'), 'small');
    // Sparse: many slices to hash, nothing on disk.
    await fsp.writeFile(path.join(root, 'big.bin'), '');
    await fsp.truncate(path.join(root, 'big.bin'), 64 * MiB);
  });

  afterEach(async function () {
    await pool?.close();
    for (const f of open.splice(0)) await f.close().catch(() => undefined);
  });

  after(async function () {
    await fsp.rm(root, { recursive: true, force: true });
  });

  it('gives the digests hashing on the event loop gives, for ranges and blocks', async function () {
    pool = new HashPool({ threads: 2, maxJobsPerUser: 64 });
    const cases: Array<[string, Omit<RangeDigestOptions, 'algorithm'>]> = [
      ['random.bin', { offset: 0, length: 0, blockSize: 0 }],
      ['random.bin', { offset: 5, length: MiB + 3, blockSize: 0 }],
      ['random.bin', { offset: 0, length: 0, blockSize: MiB }],
      ['random.bin', { offset: 100, length: 0, blockSize: 300_000 }],
      ['random.bin', { offset: 1000, length: 10 * MiB, blockSize: 256 * 1024 + 1 }],
      ['random.bin', { offset: 2 * MiB + 777, length: 0, blockSize: 0 }],
      ['random.bin', { offset: 2 * MiB + 777, length: 0, blockSize: 4096 }],
      ['empty.bin', { offset: 0, length: 0, blockSize: 0 }],
      ['empty.bin', { offset: 0, length: 0, blockSize: 1024 }],
      ['small.bin', { offset: 1, length: 3, blockSize: 0 }],
    ];
    for (const algorithm of HASH_ALGORITHMS) {
      for (const [name, range] of cases) {
        const f = await file(name);
        const o = { ...range, algorithm };
        const expected = await digestRange(f, o);
        // Two users at once, so both threads and the turns between users are exercised.
        const [a, b] = await Promise.all([
          pool.digest(f, { ...o, user: 'a' }),
          pool.digest(f, { ...o, user: 'b' }),
        ]);
        const hex = (ds: Buffer[]): string[] => ds.map((d) => d.toString('hex'));
        expect(hex(a), `${algorithm} ${name} ${JSON.stringify(range)}`).to.deep.equal(
          hex(expected),
        );
        expect(hex(b)).to.deep.equal(hex(expected));
      }
    }
    expect(pool.stats.jobs).to.equal(0);
  });

  it('refuses an offset past the end and too many blocks, as before', async function () {
    pool = new HashPool({ threads: 1, maxJobsPerUser: 4 });
    const f = await file('small.bin');
    const past = await rejection(
      pool.digest(f, { algorithm: 'md5', offset: 6, length: 0, blockSize: 0, user: 'a' }),
    );
    expect(String(past)).to.match(/offset 6 is past the end of the file \(5 bytes\)/);
    const r = await file('random.bin');
    const many = await rejection(
      pool.digest(r, {
        algorithm: 'md5',
        offset: 0,
        length: 0,
        blockSize: 256,
        maxDigests: 10,
        user: 'a',
      }),
    );
    expect(String(many)).to.match(/blocks would not fit in one reply \(at most 10\)/);
    expect(pool.stats.jobs).to.equal(0);
  });

  it("serves users in turn: a small job is not queued behind another user's big ones", async function () {
    pool = new HashPool({ threads: 1, maxJobsPerUser: 8 });
    const big = await file('big.bin');
    const small = await file('small.bin');
    const done: string[] = [];
    const whole = { algorithm: 'sha512' as const, offset: 0, length: 0, blockSize: 0 };
    const heavy = [1, 2, 3].map((i) =>
      pool.digest(big, { ...whole, user: 'heavy' }).then(() => done.push(`heavy${i}`)),
    );
    // Once the heavy user's first slice is under way.
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (pool.stats.running > 0) resolve();
        else setImmediate(check);
      };
      check();
    });
    await pool.digest(small, { ...whole, user: 'light' }).then(() => done.push('light'));
    expect(done).to.deep.equal(['light']);
    expect(pool.stats.jobs).to.equal(3);
    await Promise.all(heavy);
    expect(done).to.deep.equal(['light', 'heavy1', 'heavy2', 'heavy3']);
  });

  it('refuses a job over the per-user limit, for that user only', async function () {
    pool = new HashPool({ threads: 1, maxJobsPerUser: 2 });
    const big = await file('big.bin');
    const stop = new AbortController();
    const o = { algorithm: 'md5' as const, offset: 0, length: 0, blockSize: 0 };
    const first = [1, 2].map(() =>
      rejection(pool.digest(big, { ...o, user: 'a', signal: stop.signal })),
    );
    const third = await rejection(pool.digest(big, { ...o, user: 'a' }));
    expect(third).to.be.instanceOf(MiniftpError);
    expect((third as MiniftpError).kind).to.equal('limit');
    expect((third as MiniftpError).message).to.equal(
      'too many hashes at once (at most 2 per user); wait for one to finish',
    );
    const other = await pool.digest(await file('small.bin'), { ...o, user: 'b' });
    expect(other).to.have.length(1);
    stop.abort();
    for (const err of await Promise.all(first)) expect(err).to.be.instanceOf(MiniftpError);
    expect(pool.stats.jobs).to.equal(0);
  });

  it('drops waiting and running jobs when their signal aborts; the thread goes on serving', async function () {
    pool = new HashPool({ threads: 1, maxJobsPerUser: 8 });
    const big = await file('big.bin');
    const gone = new AbortController();
    const o = { algorithm: 'sha256' as const, offset: 0, length: 0, blockSize: 0 };
    // Blocks of 8 MiB: the running job is aborted mid-block, with a hash state on the thread.
    const jobs = [1, 2, 3].map((): Promise<unknown> =>
      rejection(pool.digest(big, { ...o, blockSize: 8 * MiB, user: 'a', signal: gone.signal })),
    );
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (pool.stats.running > 0) resolve();
        else setImmediate(check);
      };
      check();
    });
    gone.abort();
    for (const err of await Promise.all(jobs)) expect(String(err)).to.match(/cancelled/);
    expect(pool.stats).to.include({ jobs: 0, running: 0, users: 0 });
    const small = await file('small.bin');
    const [d] = await pool.digest(small, { ...o, user: 'a' });
    const [expected] = await digestRange(small, o);
    expect(d?.toString('hex')).to.equal(expected?.toString('hex'));
    const late = new AbortController();
    late.abort();
    expect(
      String(await rejection(pool.digest(small, { ...o, user: 'a', signal: late.signal }))),
    ).to.match(/cancelled/);
  });

  it('ends a job with an error when its handle is closed mid-way', async function () {
    pool = new HashPool({ threads: 1, maxJobsPerUser: 8 });
    const big = await file('big.bin');
    const job = pool.digest(big, {
      algorithm: 'md5',
      offset: 0,
      length: 0,
      blockSize: 0,
      user: 'a',
    });
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (pool.stats.running > 0) resolve();
        else setImmediate(check);
      };
      check();
    });
    await big.close();
    expect(String(await rejection(job))).to.match(/the handle is closed/);
    expect(pool.stats.jobs).to.equal(0);
  });
});
