/**
 * The quota of directories and symlinks: each is a file, a directory charged
 * 4 KiB and a symlink the length of its target as READLINK shows it. Real
 * server, stock OpenSSH `sftp` and ssh2; after every step the ledger must equal
 * an independent walk of the home, and a rescan must give the same figures.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import type { Client, SFTPWrapper } from 'ssh2';
import { Status } from '../../src/sftp/constants';
import { sftpBatch, sshExec, type ClientRun, type Credentials } from '../helpers/openssh';
import { expectLedgerMatchesDisk, ledger, setQuota } from '../helpers/quota';
import { startTestServer, type TestServer } from '../helpers/server';
import { call, connectClient, endClient, expectFailure, openSftp } from '../helpers/ssh-client';

const KiB = 1024;
const MiB = 1024 * KiB;
const DIR = 4096;
const USER = 'zhangsan';
const creds: Credentials = { user: USER, password: '123' };
const ADMIN: Credentials = { user: 'admin', password: 'password' };
const FILES_MESSAGE = /quota exceeded: (\d+) of (\d+) files used/;
const BYTES_MESSAGE = /quota exceeded: [\d.]+ (B|KiB|MiB) of [\d.]+ (B|KiB|MiB) used/;

function expectSuccess(run: ClientRun): void {
  expect(run.code, `sftp failed:\n${run.stderr}\n${run.stdout}`).to.equal(0);
}

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}

describe('quota of directories and symlinks', function () {
  let server: TestServer;
  let local: string;
  let home: string;
  let client: Client;
  let sftp: SFTPWrapper;

  before(async function () {
    server = await startTestServer();
    home = server.home(USER);
    local = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-quota-meta-'));
    await fsp.writeFile(path.join(local, 'small.bin'), Buffer.alloc(1000, 7));
    client = await connectClient(server.port, creds);
    sftp = await openSftp(client);
  });

  after(async function () {
    if (client) await endClient(client);
    await server?.stop();
    if (local) await fsp.rm(local, { recursive: true, force: true });
  });

  afterEach(async function () {
    await setQuota(server, 0, 0);
  });

  const batch = (commands: string[]): Promise<ClientRun> =>
    sftpBatch(server.port, creds, commands, { cwd: local });
  const mkdir = (p: string): Promise<void> => call((cb) => sftp.mkdir(p, cb));
  const rmdir = (p: string): Promise<void> => call((cb) => sftp.rmdir(p, cb));
  const unlink = (p: string): Promise<void> => call((cb) => sftp.unlink(p, cb));
  // ssh2 puts the link path first for servers that are not OpenSSH, as MiniFTP expects of it.
  const symlink = (target: string, link: string): Promise<void> =>
    call((cb) => sftp.symlink(target, link, cb));

  it('charges a directory one file and 4 KiB, the home itself nothing', async function () {
    expect(await ledger(server)).to.deep.equal({ bytes: 0, files: 0 });
    expectSuccess(await batch(['mkdir d', 'mkdir d/e']));
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal({ bytes: 2 * DIR, files: 2 });
    expectSuccess(await batch(['rmdir d/e', 'rmdir d']));
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal({ bytes: 0, files: 0 });
  });

  it('a user at the file limit can make neither a directory nor a symlink', async function () {
    expectSuccess(await batch(['put small.bin a.bin', 'mkdir d']));
    await setQuota(server, 0, 2);
    // OpenSSH sftp: both fail, and nothing appears.
    const run = await batch(['-mkdir e', '-ln -s a.bin a.link', 'ls']);
    expectSuccess(run);
    expect(run.stderr).to.match(/mkdir.*Failure/i);
    expect(run.stderr).to.match(/symlink.*Failure/i);
    expect(await exists(path.join(home, 'e'))).to.equal(false);
    expect(await exists(path.join(home, 'a.link'))).to.equal(false);
    // ssh2 gets the usual quota text with the figures.
    const dirErr = await expectFailure(mkdir('/e'), Status.FAILURE);
    expect(dirErr.message).to.match(FILES_MESSAGE);
    expect(dirErr.message).to.contain('2 of 2 files used');
    const linkErr = await expectFailure(symlink('a.bin', '/a.link'), Status.FAILURE);
    expect(linkErr.message).to.contain('2 of 2 files used');
    // A hard link of a symlink is a new symlink name, refused as well.
    await setQuota(server, 0, 3);
    await symlink('a.bin', '/a.link');
    const hardErr = await expectFailure(
      call((cb) => sftp.ext_openssh_hardlink('/a.link', '/a.link2', cb)),
      Status.FAILURE,
    );
    expect(hardErr.message).to.contain('3 of 3 files used');
    // An existing name is still "exists", not a quota refusal.
    const existsErr = await expectFailure(mkdir('/d'), Status.FAILURE);
    expect(existsErr.message).to.not.match(FILES_MESSAGE);
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal({
      bytes: 1000 + DIR + 'a.bin'.length,
      files: 3,
    });
    // df shows the files used and free under the limit.
    const df = await call<{ f_files: number; f_ffree: number }>((cb) =>
      sftp.ext_openssh_statvfs('/', cb),
    );
    expect(df).to.include({ f_files: 3, f_ffree: 0 });
  });

  it('RMDIR and REMOVE of a link give the file back, so the next one fits', async function () {
    await setQuota(server, 0, 3);
    await expectFailure(mkdir('/e'), Status.FAILURE);
    await rmdir('/d');
    await mkdir('/e');
    await expectFailure(symlink('a.bin', '/b.link'), Status.FAILURE);
    await unlink('/a.link');
    await symlink('a.bin', '/b.link');
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal({
      bytes: 1000 + DIR + 'a.bin'.length,
      files: 3,
    });
  });

  it('the byte limit applies to directories and to symlink targets', async function () {
    const used = (await ledger(server)).bytes;
    await setQuota(server, used + DIR + 100);
    // A target of 200 bytes does not fit in the 100 left after a directory.
    await mkdir('/f');
    const long = `${'x'.repeat(199)}y`;
    const linkErr = await expectFailure(symlink(long, '/long.link'), Status.FAILURE);
    expect(linkErr.message).to.match(BYTES_MESSAGE);
    expect(await exists(path.join(home, 'long.link'))).to.equal(false);
    await symlink('x'.repeat(100), '/fits.link');
    const dirErr = await expectFailure(mkdir('/g'), Status.FAILURE);
    expect(dirErr.message).to.match(BYTES_MESSAGE);
    expect(await exists(path.join(home, 'g'))).to.equal(false);
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal({
      bytes: used + DIR + 100,
      files: 5,
    });
    // df: full.
    const df = await call<{ f_bavail: number }>((cb) => sftp.ext_openssh_statvfs('/', cb));
    expect(df.f_bavail).to.equal(0);
    await unlink('/fits.link');
    await rmdir('/f');
    expect((await expectLedgerMatchesDisk(server)).bytes).to.equal(used);
  });

  it('stops a flood of links with 4 KB targets and directories at 20 files, and a deep tree at the bytes', async function () {
    const before = await ledger(server);
    await setQuota(server, MiB, before.files + 20);
    // 4000 bytes, in components a directory may hold.
    const target = 't/'.repeat(2000);
    const results = await Promise.allSettled(
      Array.from({ length: 300 }, (_, i) =>
        i % 2 === 0 ? symlink(target, `/flood-l${i}`) : mkdir(`/flood-d${i}`),
      ),
    );
    const made = results.filter((r) => r.status === 'fulfilled').length;
    expect(made).to.equal(20);
    for (const r of results) {
      if (r.status === 'rejected') expect(String(r.reason)).to.match(FILES_MESSAGE);
    }
    const disk = await expectLedgerMatchesDisk(server);
    expect(disk.files).to.equal(before.files + 20);
    // A deep tree runs into the byte limit: room for 40 directories.
    await setQuota(server, disk.bytes + 40 * DIR + DIR - 1);
    let depth = 0;
    let dir = '';
    for (;;) {
      dir += '/n';
      try {
        await mkdir(dir);
      } catch (err) {
        expect(String(err)).to.match(BYTES_MESSAGE);
        break;
      }
      depth++;
    }
    expect(depth).to.equal(40);
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal({
      bytes: disk.bytes + 40 * DIR,
      files: disk.files + 40,
    });
    await fsp.rm(path.join(home, 'n'), { recursive: true });
    for (const name of await fsp.readdir(home)) {
      if (name.startsWith('flood-')) await fsp.rm(path.join(home, name), { recursive: true });
    }
    await server.quota.rescan(USER);
    expect(await ledger(server)).to.deep.equal(before);
  });

  it('moves nothing on rename, gives back the link or directory a rename replaces', async function () {
    const before = await expectLedgerMatchesDisk(server);
    await mkdir('/m');
    await symlink('nothing-here', '/m/rel');
    // Climbing: stored absolute, charged as "/a.bin" wherever the link goes.
    await symlink('../a.bin', '/m/up');
    const grown = await expectLedgerMatchesDisk(server);
    expect(grown).to.deep.equal({
      bytes: before.bytes + DIR + 'nothing-here'.length + '/a.bin'.length,
      files: before.files + 3,
    });
    expectSuccess(await batch(['rename m m2', 'mkdir m2/sub', 'rename m2/up m2/sub/up']));
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal({
      bytes: grown.bytes + DIR,
      files: grown.files + 1,
    });
    // posix-rename over a symlink and over an empty directory.
    await mkdir('/empty');
    expectSuccess(await batch(['rename m2/sub/up m2/rel', 'rename m2/sub empty']));
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal({
      bytes: before.bytes + DIR + DIR + '/a.bin'.length,
      files: before.files + 3,
    });
    // A hard link of a symlink is charged as one more link, and given back.
    await call((cb) => sftp.ext_openssh_hardlink('/m2/rel', '/rel2', cb));
    expect((await expectLedgerMatchesDisk(server)).files).to.equal(before.files + 4);
    await unlink('/rel2');
    expectSuccess(await batch(['rm m2/rel', 'rmdir empty', 'rmdir m2']));
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal(before);
  });

  it('two sessions racing for the last files together get exactly the limit', async function () {
    const other = await connectClient(server.port, creds);
    try {
      const sftp2 = await openSftp(other);
      const before = await ledger(server);
      await setQuota(server, 0, before.files + 15);
      const attempts = Array.from({ length: 40 }, (_, i) => {
        const s = i % 2 === 0 ? sftp : sftp2;
        return call((cb) =>
          i % 4 < 2 ? s.mkdir(`/race-${i}`, cb) : s.symlink('a.bin', `/race-${i}`, cb),
        );
      });
      const results = await Promise.allSettled(attempts);
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(15);
      expect((await expectLedgerMatchesDisk(server)).files).to.equal(before.files + 15);
      for (const name of await fsp.readdir(home)) {
        if (name.startsWith('race-')) {
          const st = await fsp.lstat(path.join(home, name));
          await (st.isDirectory() ? rmdir(`/${name}`) : unlink(`/${name}`));
        }
      }
      expect(await expectLedgerMatchesDisk(server)).to.deep.equal(before);
    } finally {
      await endClient(other);
    }
  });

  it('a restart and the admin rescan find what live accounting counted', async function () {
    expectSuccess(
      await batch([
        'mkdir r',
        'mkdir r/s',
        'put small.bin r/s/x.bin',
        'ln -s x.bin r/s/x.link',
        'ln -s ../../a.bin r/s/up.link',
        'put small.bin r/y.bin',
        'rm r/y.bin',
        'mkdir r/t',
        'rmdir r/t',
        'ln -s r/s r/s.link',
        'rm r/s.link',
      ]),
    );
    const live = await expectLedgerMatchesDisk(server);
    expect(live.files).to.be.above(4);
    const dataDir = server.dataDir;
    await endClient(client);
    await server.close();
    server = await startTestServer({ dataDir });
    client = await connectClient(server.port, creds);
    sftp = await openSftp(client);
    // The start-up rescan (awaited by startTestServer) measured the disk again.
    expect(await ledger(server)).to.deep.equal(live);
    const run = await sshExec(server.port, ADMIN, ['usage', USER, '--rescan', '--json']);
    expect(run.code, run.stderr).to.equal(0);
    const rows = JSON.parse(run.stdout) as Array<{ usedBytes: number; usedFiles: number }>;
    expect(rows[0]).to.include({ usedBytes: live.bytes, usedFiles: live.files });
    expect(await ledger(server)).to.deep.equal(live);
  });
});
