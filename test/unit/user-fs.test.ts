/**
 * onChecked: a change to a path that was checked, then swapped for a symlink
 * (to anywhere) before the change, reaches neither the link nor its target.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { Jail } from '../../src/vfs/jail';
import { onChecked } from '../../src/vfs/checked-change';

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

describe('onChecked', function () {
  let dir: string;
  let jail: Jail;

  beforeEach(async function () {
    dir = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-checked-')));
    await fsp.mkdir(path.join(dir, 'home'));
    jail = new Jail(path.join(dir, 'home'));
  });

  afterEach(async function () {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('changes the file that was checked', async function () {
    const file = path.join(dir, 'home', 'f.txt');
    await fsp.writeFile(file, 'hello', { mode: 0o600 });
    const st = await fsp.lstat(file);
    await onChecked(jail, file, st, (name) => fsp.chmod(name, 0o640));
    await onChecked(jail, file, st, (name) => fsp.truncate(name, 2));
    const after = await fsp.stat(file);
    expect(after.mode & 0o777).to.equal(0o640);
    expect(after.size).to.equal(2);
  });

  it('refuses when the name now holds a symlink, and changes nothing', async function () {
    const file = path.join(dir, 'home', 'f.txt');
    const outside = path.join(dir, 'outside.txt');
    await fsp.writeFile(file, 'mine', { mode: 0o600 });
    await fsp.writeFile(outside, 'secret', { mode: 0o600 });
    const st = await fsp.lstat(file);
    // Swapped after the check, as a racing rename would.
    await fsp.rm(file);
    await fsp.symlink(outside, file);
    let ran = false;
    const attempt = onChecked(jail, file, st, async (name) => {
      ran = true;
      await fsp.chmod(name, 0o666);
    });
    expect((await failure(attempt)).message).to.equal('No such file');
    expect(ran).to.equal(false);
    expect((await fsp.stat(outside)).mode & 0o777).to.equal(0o600);
  });

  it('refuses when a directory above was swapped for a link to the same name outside', async function () {
    const sub = path.join(dir, 'home', 'sub');
    await fsp.mkdir(sub);
    await fsp.writeFile(path.join(sub, 'f.txt'), 'mine', { mode: 0o600 });
    const st = await fsp.lstat(path.join(sub, 'f.txt'));
    // Outside: a directory holding the very same file (a second name for its inode).
    await fsp.mkdir(path.join(dir, 'outside'));
    await fsp.link(path.join(sub, 'f.txt'), path.join(dir, 'outside', 'f.txt'));
    await fsp.rename(sub, path.join(dir, 'home', 'sub-away'));
    await fsp.symlink(path.join(dir, 'outside'), sub);
    let ran = false;
    const attempt = onChecked(jail, path.join(sub, 'f.txt'), st, async () => {
      ran = true;
    });
    expect((await failure(attempt)).message).to.equal('Permission denied');
    expect(ran).to.equal(false);
  });

  it('refuses when the name now holds another file', async function () {
    const file = path.join(dir, 'home', 'f.txt');
    await fsp.writeFile(file, 'one');
    const st = await fsp.lstat(file);
    // The checked file moves away (keeping its inode in use) and another takes its name.
    await fsp.rename(file, path.join(dir, 'moved.txt'));
    await fsp.writeFile(file, 'two');
    let ran = false;
    const attempt = onChecked(jail, file, st, async () => {
      ran = true;
    });
    expect((await failure(attempt)).message).to.equal('No such file');
    expect(ran).to.equal(false);
  });
});
