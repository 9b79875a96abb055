/**
 * Jail.resolve on a real tree: paths without symlinks take the short route
 * (one lstat per component) and must give exactly what full resolution gives;
 * symlinks, missing parents and files used as directories take the full route.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { Jail } from '../../src/vfs/jail';

describe('Jail.resolve', function () {
  let tmp: string;
  let root: string;
  let jail: Jail;

  before(async function () {
    tmp = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-jail-')));
    root = path.join(tmp, 'home');
    await fsp.mkdir(path.join(root, 'a', 'b'), { recursive: true });
    await fsp.mkdir(path.join(tmp, 'outside'));
    await fsp.writeFile(path.join(root, 'a', 'f'), 'x');
    await fsp.symlink('a/b', path.join(root, 'link-dir'));
    await fsp.symlink('f', path.join(root, 'a', 'link-file'));
    await fsp.symlink('../outside', path.join(root, 'out'));
    jail = new Jail(root);
  });

  after(async function () {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  const follow = { followLast: true };
  const noFollow = { followLast: false };
  const errorOf = async (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => 'no error',
      (err: Error) => err.message,
    );

  it('maps plain paths, existing or about to be created, onto the lexical path', async function () {
    expect(await jail.resolve('/a/b', follow)).to.equal(path.join(root, 'a', 'b'));
    expect(await jail.resolve('a/f', noFollow)).to.equal(path.join(root, 'a', 'f'));
    expect(await jail.resolve('/a/b/new-file', follow)).to.equal(
      path.join(root, 'a', 'b', 'new-file'),
    );
  });

  it('follows symlinked directories inside the home', async function () {
    expect(await jail.resolve('/link-dir/new', follow)).to.equal(path.join(root, 'a', 'b', 'new'));
    expect(await jail.resolve('/link-dir', noFollow)).to.equal(path.join(root, 'link-dir'));
    expect(await jail.resolve('/link-dir', follow)).to.equal(path.join(root, 'a', 'b'));
  });

  it('follows a final symlink only when asked', async function () {
    expect(await jail.resolve('/a/link-file', follow)).to.equal(path.join(root, 'a', 'f'));
    expect(await jail.resolve('/a/link-file', noFollow)).to.equal(
      path.join(root, 'a', 'link-file'),
    );
  });

  it('refuses links that lead outside, and reports missing parents and non-directories', async function () {
    expect(await errorOf(jail.resolve('/out/x', follow))).to.match(/permission denied/i);
    expect(await errorOf(jail.resolve('/out', follow))).to.match(/permission denied/i);
    expect(await errorOf(jail.resolve('/missing/x', follow))).to.not.equal('no error');
    expect(await errorOf(jail.resolve('/a/f/x', follow))).to.not.equal('no error');
  });
});
