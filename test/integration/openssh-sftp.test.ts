/**
 * The stock OpenSSH `sftp` client in batch mode against a real server: every
 * everyday command, a 20 MiB transfer both ways, recursive transfers and the
 * resume commands (reput, reget, put -a).
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { parseAuthorizedKey } from '../../src/auth/public-keys';
import { makeClientKey, sftpBatch, type ClientRun, type Credentials } from '../helpers/openssh';
import { startTestServer, type TestServer } from '../helpers/server';
import { makeTree, sha256File, snapshotTree, writeRandomFile } from '../helpers/files';
import { waitForLog } from '../helpers/probe';

const BIG = 20 * 1024 * 1024;
const password: Credentials = { user: 'zhangsan', password: '123' };

function expectSuccess(run: ClientRun): void {
  expect(run.code, `sftp failed:\n${run.stderr}\n${run.stdout}`).to.equal(0);
}

/** The `ls -l` line for `name` (OpenSSH prints the server's long name verbatim). */
function lsLine(stdout: string, name: string): string {
  const line = stdout
    .split('\n')
    .find((l) => !l.startsWith('sftp>') && l.trimEnd().endsWith(` ${name}`));
  expect(line, `no ls -l line for ${name} in:\n${stdout}`).to.be.a('string');
  return line as string;
}

describe('OpenSSH sftp client', function () {
  let server: TestServer;
  let local: string;
  let home: string;
  let bigSha: string;
  let key: Credentials;

  before(async function () {
    server = await startTestServer();
    home = server.home('zhangsan');
    local = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-local-'));
    await writeRandomFile(path.join(local, 'big.bin'), BIG);
    bigSha = await sha256File(path.join(local, 'big.bin'));
    await makeTree(path.join(local, 'tree'), 50);
    const pair = makeClientKey();
    await server.store.keys.add({ user: 'zhangsan', ...parseAuthorizedKey(pair.publicLine) });
    key = { user: 'zhangsan', identity: pair.identity };
  });

  after(async function () {
    await server?.stop();
    if (local) await fsp.rm(local, { recursive: true, force: true });
  });

  const batch = (creds: Credentials, commands: string[]): Promise<ClientRun> =>
    sftpBatch(server.port, creds, commands, { cwd: local });

  it('logs in with a password: pwd, mkdir, cd, put, ls -l, get', async function () {
    const run = await batch(password, [
      'pwd',
      'mkdir up',
      'cd up',
      'pwd',
      'put big.bin',
      'ls',
      'ls -l',
      'get big.bin big.back',
    ]);
    expectSuccess(run);
    expect(run.stdout).to.match(/^Remote working directory: \/$/m);
    expect(run.stdout).to.match(/^Remote working directory: \/up$/m);
    expect(await sha256File(path.join(home, 'up', 'big.bin'))).to.equal(bigSha);
    expect(await sha256File(path.join(local, 'big.back'))).to.equal(bigSha);
    // mode, links, owner, group, size, date, name. OpenSSH 9.1+ lays the line out
    // itself when users-groups-by-id@openssh.com is offered, with "?" for the links.
    expect(lsLine(run.stdout, 'big.bin')).to.match(
      /^-rw-r--r--\s+(\d+|\?) zhangsan\s+zhangsan\s+20971520 \w{3} [ \d]\d ( \d{4}|\d\d:\d\d) big\.bin$/,
    );
  });

  it('logs in with a key added to the store and transfers the same file', async function () {
    const run = await batch(key, ['put big.bin bykey.bin', 'get bykey.bin bykey.back', 'ls']);
    expectSuccess(run);
    expect(run.stdout).to.match(/^bykey\.bin\b/m);
    expect(await sha256File(path.join(home, 'bykey.bin'))).to.equal(bigSha);
    expect(await sha256File(path.join(local, 'bykey.back'))).to.equal(bigSha);
  });

  it('copies a tree with put -r and get -r', async function () {
    const run = await batch(key, ['put -r tree', 'get -r tree tree.back']);
    expectSuccess(run);
    const original = await snapshotTree(path.join(local, 'tree'));
    expect(Object.keys(original)).to.have.length.above(50);
    expect(await snapshotTree(path.join(home, 'tree'))).to.deep.equal(original);
    expect(await snapshotTree(path.join(local, 'tree.back'))).to.deep.equal(original);
  });

  it('renames; plain rename overwrites (posix-rename@openssh.com), rename -l does not', async function () {
    await fsp.writeFile(path.join(home, 'r1.txt'), 'one');
    await fsp.writeFile(path.join(home, 'r2.txt'), 'two');
    await fsp.writeFile(path.join(home, 'r3.txt'), 'three');
    const run = await batch(key, [
      'rename r1.txt moved.txt',
      // OpenSSH's sftp sends posix-rename@openssh.com when the server offers it.
      'rename moved.txt r2.txt',
      // -l forces the draft-02 RENAME, which must not replace an existing name.
      '-rename -l r2.txt r3.txt',
    ]);
    expectSuccess(run);
    expect(run.stderr).to.match(/rename "\/r2\.txt" to "\/r3\.txt": Failure/);
    await expectMissing(path.join(home, 'r1.txt'));
    await expectMissing(path.join(home, 'moved.txt'));
    expect(await fsp.readFile(path.join(home, 'r2.txt'), 'utf8')).to.equal('one');
    expect(await fsp.readFile(path.join(home, 'r3.txt'), 'utf8')).to.equal('three');
    const user = 'zhangsan';
    await waitForLog(server.dataDir, 'path.renamed', { user, from: '/r1.txt', to: '/moved.txt' });
    await waitForLog(server.dataDir, 'path.renamed', { from: '/moved.txt', replaced: true });
  });

  it('runs rm, rmdir, chmod and ln -s', async function () {
    await fsp.mkdir(path.join(home, 'gone'));
    await fsp.writeFile(path.join(home, 'gone.txt'), 'x');
    await fsp.writeFile(path.join(home, 'target.txt'), 'through the link');
    await fsp.writeFile(path.join(home, 'private.txt'), 'p', { mode: 0o644 });
    const run = await batch(key, [
      'rm gone.txt',
      'rmdir gone',
      'chmod 600 private.txt',
      'ln -s target.txt link.txt',
      'mkdir fresh',
      'get link.txt link.back',
      'ls -l',
    ]);
    expectSuccess(run);
    await expectMissing(path.join(home, 'gone.txt'));
    await expectMissing(path.join(home, 'gone'));
    expect((await fsp.stat(path.join(home, 'private.txt'))).mode & 0o777).to.equal(0o600);
    expect(lsLine(run.stdout, 'private.txt')).to.match(/^-rw------- /);
    expect(await fsp.readlink(path.join(home, 'link.txt'))).to.equal('target.txt');
    expect(await fsp.readFile(path.join(local, 'link.back'), 'utf8')).to.equal('through the link');
    expect(lsLine(run.stdout, 'link.txt')).to.match(
      /^lrwxrwxrwx\s+(\d+|\?) zhangsan .* link\.txt$/,
    );
    // Every change of a name leaves a line in the log, with the path as the user sees it.
    const user = 'zhangsan';
    await waitForLog(server.dataDir, 'file.removed', { user, path: '/gone.txt', bytes: 1 });
    await waitForLog(server.dataDir, 'dir.removed', { user, path: '/gone' });
    await waitForLog(server.dataDir, 'dir.created', { user, path: '/fresh' });
    await waitForLog(server.dataDir, 'link.created', { user, path: '/link.txt', symbolic: true });
  });

  it('shows the quota and the usage in df', async function () {
    const run = await batch(key, ['df']);
    expectSuccess(run);
    // "Size Used Avail (root) %Capacity" in KiB
    const numbers = run.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .find((f) => f.length === 5 && /^\d+$/.test(f[0] ?? ''));
    expect(numbers, run.stdout).to.be.an('array');
    const [size, used, avail] = (numbers as string[]).map(Number) as [number, number, number];
    expect(size).to.equal(1024 * 1024);
    const usedBytes = (await server.quota.get('zhangsan')).bytes;
    expect(usedBytes).to.be.above(2 * BIG);
    // Block rounding: within one 4 KiB block of what the ledger says.
    expect(Math.abs(used * 1024 - usedBytes)).to.be.below(8192);
    expect(size - used - avail).to.be.within(-8, 8);
  });

  it('completes a truncated upload with reput and put -a', async function () {
    const first = await batch(key, ['put big.bin part1.bin', 'put big.bin part2.bin']);
    expectSuccess(first);
    // Drop the tail behind the server's back, as an interrupted upload would leave it.
    await fsp.truncate(path.join(home, 'part1.bin'), 7 * 1024 * 1024 + 123);
    await fsp.truncate(path.join(home, 'part2.bin'), 1000);
    const run = await batch(key, ['reput big.bin part1.bin', 'put -a big.bin part2.bin']);
    expectSuccess(run);
    expect(await sha256File(path.join(home, 'part1.bin'))).to.equal(bigSha);
    expect(await sha256File(path.join(home, 'part2.bin'))).to.equal(bigSha);
  });

  it('completes a truncated download with reget', async function () {
    await fsp.copyFile(path.join(local, 'big.bin'), path.join(home, 'dl.bin'));
    await fsp.copyFile(path.join(local, 'big.bin'), path.join(local, 'dl.part'));
    await fsp.truncate(path.join(local, 'dl.part'), 5 * 1024 * 1024 + 7);
    const run = await batch(key, ['reget dl.bin dl.part']);
    expectSuccess(run);
    expect(await sha256File(path.join(local, 'dl.part'))).to.equal(bigSha);
  });
});

async function expectMissing(p: string): Promise<void> {
  const st = await fsp.lstat(p).catch(() => undefined);
  expect(st, `${path.basename(p)} should not exist`).to.equal(undefined);
}
