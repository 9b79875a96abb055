import { expect } from 'chai';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DIRECTORY_CHARGE, QuotaExceeded, linkCharge } from '../../src/quota/quota-ledger';
import { UserUsage } from '../../src/quota/user-usage';
import { scanDirectory } from '../../src/vfs/usage-scan';

const KiB = 1024;
const MiB = 1024 * KiB;

function usage(bytes: number, files: number, limit: number, fileLimit = 0): UserUsage {
  return new UserUsage('bob', bytes, files, { bytes: limit, files: fileLimit });
}

function refusal(fn: () => unknown): QuotaExceeded {
  try {
    fn();
  } catch (err) {
    if (err instanceof QuotaExceeded) return err;
    throw err;
  }
  throw new Error('expected QuotaExceeded');
}

describe('UserUsage', function () {
  it('refuses the growth that would pass the quota, with used and quota in human units', function () {
    const u = usage(4 * MiB, 1, 5 * MiB);
    u.openFile('1:1', 0, 1);
    u.growTo('1:1', MiB);
    const err = refusal(() => u.growTo('1:1', MiB + 1));
    expect(err.message).to.equal('quota exceeded: 5 MiB of 5 MiB used');
    expect(err).to.include({ attempted: 1, used: 5 * MiB, limit: 5 * MiB, unit: 'bytes' });
    expect(u.bytes).to.equal(5 * MiB);
    expect(u.chargedSize('1:1')).to.equal(MiB);
  });

  it('charges handles of one file once, and writes below the charged size nothing', function () {
    const u = usage(0, 1, 0);
    u.openFile('1:1', 100, 1);
    u.openFile('1:1', 100, 1);
    u.growTo('1:1', 300);
    u.growTo('1:1', 200);
    expect(u.bytes).to.equal(200);
    u.closeFile('1:1', { size: 300, nlink: 1 });
    // Another handle is open: no reconciliation yet.
    expect(u.bytes).to.equal(200);
    u.closeFile('1:1', { size: 250, nlink: 1 });
    expect(u.bytes).to.equal(150);
  });

  it('counts every name of a hard-linked file, growth included', function () {
    const u = usage(100, 1, 0);
    u.addName('1:1', 100);
    expect(u).to.include({ bytes: 200, files: 2 });
    u.openFile('1:1', 100, 2);
    u.growTo('1:1', 150);
    expect(u.bytes).to.equal(300);
    u.removeName('1:1', 150);
    expect(u).to.include({ bytes: 150, files: 1 });
    u.closeFile('1:1', { size: 150, nlink: 1 });
    expect(u.bytes).to.equal(150);
  });

  it('keeps a file removed while open charged until its last handle closes', function () {
    const u = usage(0, 0, 0);
    u.reserveFile();
    u.openFile('1:1', 0, 1);
    u.growTo('1:1', 1000);
    u.removeName('1:1', 1000);
    expect(u).to.include({ bytes: 1000, files: 0 });
    u.growTo('1:1', 1500);
    expect(u.bytes).to.equal(1500);
    u.closeFile('1:1', { size: 1500, nlink: 0 });
    expect(u.bytes).to.equal(0);
  });

  it('checks a file-count quota', function () {
    const u = usage(0, 2, 0, 2);
    const err = refusal(() => u.reserveFile());
    expect(err.message).to.equal('quota exceeded: 2 of 2 files used');
    expect(refusal(() => u.addName('9:9', 0)).unit).to.equal('files');
    expect(u.files).to.equal(2);
  });

  it('takes a scan of the disk, keeping the charged size of open files', function () {
    const u = usage(0, 0, 0);
    u.openFile('1:1', 0, 1);
    // A write reserved but not yet on the disk when the scan read the file.
    u.growTo('1:1', 500);
    u.openFile('1:2', 0, 1);
    u.growTo('1:2', 70);
    u.removeName('1:2', 70);
    const before = u.generation;
    u.reset({
      bytes: 1200,
      files: 3,
      open: new Map([['1:1', { size: 200, names: 2 }]]),
      unreadable: [],
    });
    expect(u.generation).to.be.above(before);
    // 1200 on disk, the open file counted at 500 for each of its 2 names, plus the removed one.
    expect(u).to.include({ bytes: 1200 + 2 * 300 + 70, files: 3 });
    u.closeFile('1:1', { size: 500, nlink: 2 });
    u.closeFile('1:2', { size: 70, nlink: 0 });
    expect(u.bytes).to.equal(1200 + 2 * 300);
  });

  it('does not bump the scan generation for growth of open files', function () {
    const u = usage(0, 0, 0);
    u.openFile('1:1', 0, 1);
    const before = u.generation;
    u.growTo('1:1', 10);
    u.setSize('1:1', 5);
    expect(u.generation).to.equal(before);
    expect(u.isDirty).to.equal(true);
  });

  it('charges a directory or symlink one file and its bytes, or refuses it taking nothing', function () {
    const u = usage(0, 0, 10 * KiB, 3);
    u.addEntry(DIRECTORY_CHARGE);
    u.addEntry(5);
    expect(u).to.include({ bytes: DIRECTORY_CHARGE + 5, files: 2 });
    const bytes = refusal(() => u.addEntry(2 * DIRECTORY_CHARGE));
    expect(bytes).to.include({ unit: 'bytes', used: DIRECTORY_CHARGE + 5, limit: 10 * KiB });
    expect(bytes.message).to.equal('quota exceeded: 4 KiB of 10 KiB used');
    u.addEntry(0);
    const files = refusal(() => u.addEntry(0));
    expect(files.message).to.equal('quota exceeded: 3 of 3 files used');
    expect(u).to.include({ bytes: DIRECTORY_CHARGE + 5, files: 3 });
    const before = u.generation;
    u.removeEntry(DIRECTORY_CHARGE);
    expect(u).to.include({ bytes: 5, files: 2 });
    expect(u.generation).to.be.above(before);
  });

  it('charges a symlink the length of its target as READLINK shows it', function () {
    const home = '/data/docs/bob';
    expect(linkCharge('notes/a.txt', home)).to.equal(11);
    expect(linkCharge('../x', home)).to.equal(4);
    // Stored absolute below the home: counted as the path from the home.
    expect(linkCharge('/data/docs/bob/dir/x', home)).to.equal('/dir/x'.length);
    expect(linkCharge('/data/docs/bob', home)).to.equal(1);
    // Elsewhere (only made on disk by hand): as stored.
    expect(linkCharge('/data/docs/bobby/x', home)).to.equal('/data/docs/bobby/x'.length);
    expect(linkCharge('/etc/passwd', home)).to.equal(11);
    // Bytes, not characters.
    expect(linkCharge('é', home)).to.equal(2);
  });

  it('scans directories and symlinks as the ledger charges them, the home itself free', async function () {
    const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-scan-'));
    try {
      expect(await scanDirectory(home)).to.include({ bytes: 0, files: 0 });
      await fsp.mkdir(path.join(home, 'a', 'b'), { recursive: true });
      await fsp.writeFile(path.join(home, 'a', 'f'), Buffer.alloc(100));
      await fsp.symlink('f', path.join(home, 'a', 'rel'));
      await fsp.symlink(path.join(home, 'a', 'f'), path.join(home, 'a', 'b', 'abs'));
      // A hard link of a symlink is a second name: charged again, as for files.
      await fsp.link(path.join(home, 'a', 'rel'), path.join(home, 'rel2'));
      const scan = await scanDirectory(home);
      expect(scan).to.include({
        bytes: 100 + 2 * DIRECTORY_CHARGE + 2 * 'f'.length + '/a/f'.length,
        files: 1 + 2 + 3,
      });
    } finally {
      await fsp.rm(home, { recursive: true, force: true });
    }
  });
});
