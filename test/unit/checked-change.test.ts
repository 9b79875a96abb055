/**
 * onChecked: a change to a path that was checked, then swapped for a symlink
 * (to anywhere) before the change, reaches neither the link nor its target.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { onChecked } from '../../src/vfs/user-fs';

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

  beforeEach(async function () {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-checked-'));
  });

  afterEach(async function () {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('changes the file that was checked', async function () {
    const file = path.join(dir, 'f.txt');
    await fsp.writeFile(file, 'hello', { mode: 0o600 });
    const st = await fsp.lstat(file);
    await onChecked(file, st, (name) => fsp.chmod(name, 0o640));
    await onChecked(file, st, (name) => fsp.truncate(name, 2));
    const after = await fsp.stat(file);
    expect(after.mode & 0o777).to.equal(0o640);
    expect(after.size).to.equal(2);
  });

  it('refuses when the name now holds a symlink, and changes nothing', async function () {
    const file = path.join(dir, 'f.txt');
    const outside = path.join(dir, 'outside.txt');
    await fsp.writeFile(file, 'mine', { mode: 0o600 });
    await fsp.writeFile(outside, 'secret', { mode: 0o600 });
    const st = await fsp.lstat(file);
    // Swapped after the check, as a racing rename would.
    await fsp.rm(file);
    await fsp.symlink(outside, file);
    let ran = false;
    const attempt = onChecked(file, st, async (name) => {
      ran = true;
      await fsp.chmod(name, 0o666);
    });
    expect((await failure(attempt)).message).to.equal('no such file or directory');
    expect(ran).to.equal(false);
    expect((await fsp.stat(outside)).mode & 0o777).to.equal(0o600);
  });

  it('refuses when the name now holds another file', async function () {
    const file = path.join(dir, 'f.txt');
    await fsp.writeFile(file, 'one');
    const st = await fsp.lstat(file);
    // The checked file moves away (keeping its inode in use) and another takes its name.
    await fsp.rename(file, path.join(dir, 'moved.txt'));
    await fsp.writeFile(file, 'two');
    let ran = false;
    const attempt = onChecked(file, st, async () => {
      ran = true;
    });
    expect((await failure(attempt)).message).to.equal('no such file or directory');
    expect(ran).to.equal(false);
  });
});
