/** The client's wildcards: what a pattern matches, and long options on the command line. */
import { expect } from 'chai';
import { parseLine } from '../../src/client/commands';
import { globToRegExp, hasGlob, matchEntries } from '../../src/client/glob';
import type { FileEntry } from '../../src/client/listing';

const entry = (name: string): FileEntry => ({
  name,
  isDir: false,
  size: 0,
  mtime: undefined,
  isLink: false,
});

describe('client wildcards', () => {
  it('knows a pattern by its last part only', () => {
    expect(hasGlob('*.txt')).to.equal(true);
    expect(hasGlob('logs/a?.log')).to.equal(true);
    expect(hasGlob('dir[1]/file')).to.equal(false);
    expect(hasGlob('plain.txt')).to.equal(false);
  });

  it('matches *, ? and sets, and nothing else', () => {
    const names = (p: string): string[] =>
      matchEntries(
        p,
        ['a.txt', 'b.txt', 'ab.txt', 'c.log', 'a+b(1).txt', '*star', '.hidden.txt', ']x'].map(
          entry,
        ),
      ).map((e) => e.name);
    expect(names('*.txt')).to.deep.equal(['a.txt', 'b.txt', 'ab.txt', 'a+b(1).txt']);
    expect(names('?.txt')).to.deep.equal(['a.txt', 'b.txt']);
    expect(names('[ab].txt')).to.deep.equal(['a.txt', 'b.txt']);
    expect(names('[!a]*.txt')).to.deep.equal(['b.txt']);
    expect(names('[a-b]b.txt')).to.deep.equal(['ab.txt']);
    expect(names('a+b(1).*')).to.deep.equal(['a+b(1).txt']);
    expect(names('[*]*')).to.deep.equal(['*star']);
    expect(names('.*')).to.deep.equal(['.hidden.txt']);
    expect(names('[]]x')).to.deep.equal([']x']);
    expect(names('*.none')).to.deep.equal([]);
    // An unclosed "[" is itself.
    expect(globToRegExp('a[b').test('a[b')).to.equal(true);
  });

  it('takes long options a command knows and refuses others', () => {
    const p = parseLine('mirror -R --delete --dry-run src dst');
    expect([...(p?.parsed.flags ?? [])].sort()).to.deep.equal(['--delete', '--dry-run', '-R']);
    expect(p?.parsed.args).to.deep.equal(['src', 'dst']);
    expect(parseLine('mget *.txt')?.spec.name).to.equal('get');
    expect(parseLine('mput *.txt')?.spec.name).to.equal('put');
    expect(() => parseLine('put --delete a')).to.throw('put: unknown option --delete');
  });
});
