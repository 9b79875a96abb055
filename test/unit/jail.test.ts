/**
 * Jail.resolve on a real tree: paths without symlinks take the short route
 * (one lstat per component) and must give exactly what full resolution gives;
 * symlinks, missing parents and files used as directories take the full route.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import {
  Jail,
  MAX_DEPTH,
  MAX_NAME_BYTES,
  MAX_PATH_BYTES,
  SYNC_DEPTH,
  normalizeVirtual,
} from '../../src/vfs/jail';

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

  it('refuses names, paths and depths over the limits, and takes everything up to them', function () {
    const name = 'n'.repeat(MAX_NAME_BYTES);
    expect(normalizeVirtual(`/${name}`)).to.equal(`/${name}`);
    expect(() => normalizeVirtual(`/${name}x`)).to.throw(/file name too long/);
    // Bytes, not characters: 128 two-byte characters are 256 bytes.
    expect(() => normalizeVirtual(`/${'é'.repeat(128)}`)).to.throw(/file name too long/);
    expect(normalizeVirtual('/d'.repeat(MAX_DEPTH))).to.equal('/d'.repeat(MAX_DEPTH));
    expect(() => normalizeVirtual('/d'.repeat(MAX_DEPTH + 1))).to.throw(/too deep/);
    // What ".." takes back does not count.
    expect(normalizeVirtual(`${'/d'.repeat(MAX_DEPTH + 1)}/..`)).to.equal('/d'.repeat(MAX_DEPTH));
    const long = `/${'p'.repeat(200)}`.repeat(Math.ceil(MAX_PATH_BYTES / 201) + 1);
    expect(() => normalizeVirtual(long)).to.throw(/path too long/);
  });

  it('resolves paths deeper than the synchronous route as the kernel does, symlinks included', async function () {
    const deep = Array.from({ length: SYNC_DEPTH + 4 }, () => 'k').join('/');
    await fsp.mkdir(path.join(root, deep), { recursive: true });
    await fsp.symlink(path.join(root, 'a'), path.join(root, deep, 'up'));
    // Climbs from the deep directory to the one above the home, then into "outside".
    await fsp.symlink(`${'../'.repeat(SYNC_DEPTH + 5)}outside`, path.join(root, deep, 'k-out'));
    const v = `/${deep}`;
    expect(await jail.resolve(v, follow)).to.equal(path.join(root, deep));
    expect(await jail.resolve(`${v}/new`, noFollow)).to.equal(path.join(root, deep, 'new'));
    expect(await jail.resolve(`${v}/up/f`, follow)).to.equal(path.join(root, 'a', 'f'));
    expect(await jail.resolve(`${v}/up`, noFollow)).to.equal(path.join(root, deep, 'up'));
    expect(await errorOf(jail.resolve(`${v}/missing/x`, follow))).to.match(/ENOENT/);
    expect(await errorOf(jail.resolve(`${v}/k-out/x`, follow))).to.match(/permission denied/i);
    expect(await errorOf(jail.resolve(`${v}/k-out`, follow))).to.match(/permission denied/i);
    expect(await errorOf(jail.resolve(`${v}/up/f/x`, noFollow))).to.match(/ENOTDIR/);
    expect(await jail.realVirtual(`${v}/up/new`)).to.equal('/a/new');
    expect(await jail.realVirtual(`${v}/up`)).to.equal('/a');
  });

  it('REALPATH: a missing or non-directory parent is not found, a missing last name is fine', async function () {
    expect(await jail.realVirtual('/a/new')).to.equal('/a/new');
    expect(await jail.realVirtual('/link-dir/new')).to.equal('/a/b/new');
    expect(await errorOf(jail.realVirtual('/missing/x'))).to.equal('No such file');
    expect(await errorOf(jail.realVirtual('/a/f/x'))).to.equal('No such file');
    // Outside: the path as asked, revealing nothing.
    expect(await jail.realVirtual('/out/x')).to.equal('/out/x');
  });
});
