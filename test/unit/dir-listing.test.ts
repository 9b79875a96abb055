/** The batch reader behind READDIR. */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { DirListing, type DirEntry } from '../../src/vfs/dir-listing';

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
