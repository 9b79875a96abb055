/** The screen's pure parts: cell widths, columns, units, sorting, marking patterns, transfer lines. */
import { expect } from 'chai';
import { formatBytes, formatRate } from '../../src/client/format';
import type { FileEntry } from '../../src/client/listing';
import { cellWidth, fitCells, fitCellsEnd, padCellsStart } from '../../src/client/ui/cells';
import { globMatcher, sortRows } from '../../src/client/ui/file-pane';
import { makeTheme } from '../../src/client/ui/theme';
import { jobName, transferLine } from '../../src/client/ui/transfers-view';
import type { TransferJob } from '../../src/client/transfer-queue';

const entry = (name: string, size: number, isDir = false, mtime = 0): FileEntry => ({
  name,
  size,
  isDir,
  isLink: false,
  mtime: new Date(mtime),
});

const job = (over: Partial<TransferJob>): TransferJob => ({
  id: 7,
  direction: 'put',
  localPath: '/home/me/docs/report.txt',
  remotePath: '/up/report.txt',
  force: false,
  label: 'report.txt',
  state: 'queued',
  progress: undefined,
  result: undefined,
  error: undefined,
  restarted: undefined,
  renamedTo: undefined,
  done: Promise.resolve({ total: 0, bytesSent: 0, resumedFrom: 0, md5: '', verified: true }),
  ...over,
});

describe('client screen: cell widths', () => {
  it('counts wide characters as two cells, combining marks and joiners as none', () => {
    expect(cellWidth('plain.txt')).to.equal(9);
    expect(cellWidth('名前 unicode ファイル.txt')).to.equal(25);
    expect(cellWidth('cafe\u0301')).to.equal(4);
    expect(cellWidth('🎉')).to.equal(2);
    expect(cellWidth('☕')).to.equal(2);
    expect(cellWidth('한국어')).to.equal(6);
    expect(cellWidth('ｱｲｳ')).to.equal(3);
    expect(cellWidth('Ωμέγα')).to.equal(5);
  });

  it('pads and cuts by cells, never splitting a wide character', () => {
    expect(fitCells('名前.txt', 10)).to.equal('名前.txt  ');
    expect(cellWidth(fitCells('名前 unicode ファイル.txt', 16))).to.equal(16);
    expect(fitCells('名前名前', 6)).to.equal('名前 ~');
    expect(fitCells('ab', 0)).to.equal('');
    expect(fitCellsEnd('/very/long/名前/path', 10)).to.equal('~名前/path');
    expect(cellWidth(fitCellsEnd('/very/long/名前/path', 10))).to.equal(10);
    expect(padCellsStart('1.2K', 6)).to.equal('  1.2K');
  });
});

describe('client screen: units', () => {
  it('gives sizes three significant digits and rates the same binary units', () => {
    expect(formatBytes(1075 * 1024 * 1024)).to.equal('1.05 GiB');
    expect(formatBytes(1023 * 1024)).to.equal('1023 KiB');
    expect(formatBytes(1024 * 1024 - 1)).to.equal('1.00 MiB');
    expect(formatBytes(123 * 1024 * 1024)).to.equal('123 MiB');
    expect(formatRate(500)).to.equal('500 B/s');
    expect(formatRate(1.5 * 1024 * 1024)).to.equal('1.50 MiB/s');
  });
});

describe('client screen: sorting and marking', () => {
  const entries = [
    entry('b.txt', 10, false, 3000),
    entry('a.txt', 300, false, 1000),
    entry('zdir', 0, true, 0),
    entry('c.txt', 20, false, 2000),
  ];
  const names = (e: FileEntry[]): string[] => e.map((x) => x.name);

  it('keeps folders first and sorts by name, size (largest first) or time (newest first)', () => {
    expect(names(sortRows(entries, 'name', false))).to.deep.equal([
      'zdir',
      'a.txt',
      'b.txt',
      'c.txt',
    ]);
    expect(names(sortRows(entries, 'size', false))).to.deep.equal([
      'zdir',
      'a.txt',
      'c.txt',
      'b.txt',
    ]);
    expect(names(sortRows(entries, 'time', false))).to.deep.equal([
      'zdir',
      'b.txt',
      'c.txt',
      'a.txt',
    ]);
    expect(names(sortRows(entries, 'time', true))).to.deep.equal([
      'zdir',
      'a.txt',
      'c.txt',
      'b.txt',
    ]);
  });

  it('matches * and ? patterns, case-insensitively, taking other characters literally', () => {
    const m = globMatcher('*.TXT');
    expect(m('a.txt')).to.equal(true);
    expect(m('a.txt.bak')).to.equal(false);
    expect(globMatcher('a?.bin')('a1.bin')).to.equal(true);
    expect(globMatcher('a?.bin')('a12.bin')).to.equal(false);
    expect(globMatcher('(1).txt')('(1).txt')).to.equal(true);
    expect(globMatcher('名*')('名前.txt')).to.equal(true);
  });
});

describe('client screen: transfer lines', () => {
  const theme = makeTheme(256, {});
  const where = { localCwd: '/home/me', remoteCwd: '/up' };

  it('names the source relative to its pane, and the destination when it differs', () => {
    expect(jobName(job({}), where)).to.equal('docs/report.txt');
    expect(jobName(job({ remotePath: '/up/b.txt' }), where)).to.equal('docs/report.txt as b.txt');
    expect(jobName(job({ localPath: '/elsewhere/report.txt' }), where)).to.equal(
      '/elsewhere/report.txt',
    );
  });

  it('says received for downloads, and keeps the reason of a failure', () => {
    const get = job({
      direction: 'get',
      state: 'done',
      result: { total: 2048, bytesSent: 2048, resumedFrom: 0, md5: '', verified: true },
    });
    expect(transferLine(get, 80, theme, where)).to.match(/done, 2\.00 KiB received, MD5 verified/);
    const failed = job({ state: 'failed', error: new Error('quota exceeded') });
    const line = transferLine(failed, 80, theme, where);
    expect(line).to.match(/^#7 put docs\/report\.txt FAILED: quota exceeded/);
    expect(cellWidth(line)).to.equal(80);
  });

  it('says a transfer resumes while it runs', () => {
    const running = job({
      state: 'running',
      progress: {
        transferred: 3 * 1024 * 1024,
        total: 4 * 1024 * 1024,
        bytesPerSecond: 1024 * 1024,
        etaSeconds: 1,
        resumedFrom: 2 * 1024 * 1024,
      },
    });
    const line = transferLine(running, 120, theme, where);
    expect(line).to.include('75% 3.00 MiB/4.00 MiB 1.00 MiB/s');
    expect(line).to.include('resuming at 2.00 MiB');
  });
});
