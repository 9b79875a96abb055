import { expect } from 'chai';
import { QuotaExceeded, UserUsage } from '../../src/quota/user-usage';

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
    u.reset({ bytes: 1200, files: 3, open: new Map([['1:1', { size: 200, names: 2 }]]) });
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
});
