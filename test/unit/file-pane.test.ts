/** The file panes' sorting and marking patterns. */
import { expect } from 'chai';
import type { FileEntry } from '../../src/client/listing';
import { globMatcher, sortRows } from '../../src/client/ui/file-pane';

const entry = (name: string, size: number, isDir = false, mtime = 0): FileEntry => ({
  name,
  size,
  isDir,
  isLink: false,
  mtime: new Date(mtime),
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
