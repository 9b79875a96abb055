/**
 * One session's handle table over a real jailed filesystem: the session's
 * cap, its listing memory and the server-wide budget all taken by `reserve`
 * and given back once; lookups by kind; and a directory handle that holds no
 * real path.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { MiniftpError } from '../../src/errors';
import { UserUsage } from '../../src/quota/user-usage';
import { HandleBudget, LISTING_BYTES_PER_HANDLE } from '../../src/sftp/handle-budget';
import { HandleTable } from '../../src/sftp/handle-table';
import { Jail } from '../../src/vfs/jail';
import { UserFs } from '../../src/vfs/user-fs';

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

describe('handle table', function () {
  let root: string;
  let fs: UserFs;

  before(async function () {
    root = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-handles-')));
    await fsp.writeFile(path.join(root, 'f'), 'x');
    await fsp.mkdir(path.join(root, 'd'));
    fs = new UserFs({
      jail: new Jail(root),
      usage: new UserUsage('u', 0, 0, { bytes: 0, files: 0 }),
    });
  });

  after(async function () {
    await fsp.rm(root, { recursive: true, force: true });
  });

  it('caps files and directories together at maxHandles, adopted files included', async function () {
    const table = new HandleTable('u', { maxHandles: 3 });
    const dir = table.reserve('dir');
    const file = table.reserve('file');
    table.adoptFile(await fs.openForReading('/f'));
    expect(limitError(() => table.reserve('file'))).to.equal('too many open handles (limit 3)');
    expect(limitError(() => table.reserve('dir'))).to.equal('too many open handles (limit 3)');
    file();
    file(); // a second call gives nothing back twice
    const again = table.reserve('file');
    expect(limitError(() => table.reserve('file'))).to.match(/limit 3/);
    again();
    dir();
    for (const h of table.takeAll()) {
      if (h.kind === 'file') await h.file.close();
      h.release();
    }
  });

  it("takes the user's and the server's share of the budget, and gives it back on release", function () {
    const budget = new HandleBudget({ perUser: 2, total: 0, listingBytes: 0 });
    const mine = new HandleTable('u', { maxHandles: 10 }, budget);
    const other = new HandleTable('u', { maxHandles: 10 }, budget);
    const a = mine.reserve('file');
    const b = other.reserve('dir');
    expect(budget.usage().perUser).to.deep.equal({ u: 2 });
    expect(limitError(() => mine.reserve('file'))).to.equal(
      'too many open handles for this user across all sessions (limit 2)',
    );
    a();
    b();
    expect(budget.usage()).to.deep.equal({ handles: 0, perUser: {}, listingBytes: 0 });
  });

  it("counts a directory's listing memory against the session and the server, taking nothing when refused", function () {
    const budget = new HandleBudget({ perUser: 0, total: 0, listingBytes: 0 });
    const table = new HandleTable(
      'u',
      { maxHandles: 10, maxListingBytes: LISTING_BYTES_PER_HANDLE },
      budget,
    );
    const first = table.reserve('dir');
    expect(budget.usage().listingBytes).to.equal(LISTING_BYTES_PER_HANDLE);
    expect(limitError(() => table.reserve('dir'))).to.match(
      /^too many directory listings open in this session \(memory limit .*\); close some first$/,
    );
    expect(budget.usage().handles).to.equal(1);
    // A file takes no listing memory.
    const file = table.reserve('file');
    first();
    file();
    expect(budget.usage()).to.deep.equal({ handles: 0, perUser: {}, listingBytes: 0 });
  });

  it('looks handles up by kind, and refuses unknown or closed ones as invalid', async function () {
    const table = new HandleTable('u', { maxHandles: 10 });
    const file = await fs.openForReading('/f');
    const fh = table.adoptFile(file);
    const dh = table.add({
      kind: 'dir',
      virtualPath: '/d',
      listing: await fs.opendir('/d'),
      release: table.reserve('dir'),
    });
    expect(table.file(fh)).to.equal(file);
    expect(table.dir(dh).virtualPath).to.equal('/d');
    expect(() => table.file(dh)).to.throw(MiniftpError, 'the handle is a directory');
    expect(() => table.dir(fh)).to.throw(MiniftpError, 'the handle is not a directory');
    expect(() => table.file('99')).to.throw(MiniftpError, 'invalid handle');
    const taken = table.take(dh);
    expect(() => table.take(dh)).to.throw(MiniftpError, 'invalid handle');
    if (taken.kind === 'dir') await taken.listing.close();
    taken.release();
    expect(table.writesTo(file.key)).to.equal(false);
    for (const h of table.takeAll()) {
      if (h.kind === 'file') await h.file.close();
      h.release();
    }
  });

  it("keeps a directory handle's own fields free of the real path", async function () {
    const table = new HandleTable('u', { maxHandles: 10 });
    const dh = table.add({
      kind: 'dir',
      virtualPath: '/d',
      listing: await fs.opendir('/d'),
      release: table.reserve('dir'),
    });
    const h = table.dir(dh);
    expect(Object.keys(h).sort()).to.deep.equal(['kind', 'listing', 'release', 'virtualPath']);
    for (const value of Object.values(h)) {
      if (typeof value === 'string') expect(value).to.not.include(root);
    }
    await h.listing.close();
    h.release();
  });

  it('tells whether the session writes to a file', async function () {
    const table = new HandleTable('u', { maxHandles: 10 });
    const file = await fs.open('/w', {
      read: false,
      write: true,
      append: false,
      create: true,
      truncate: true,
      exclusive: false,
    });
    table.adoptFile(file);
    expect(table.writesTo(file.key)).to.equal(true);
    for (const h of table.takeAll()) {
      if (h.kind === 'file') await h.file.close();
      h.release();
    }
    expect(table.writesTo(file.key)).to.equal(false);
  });
});
