/**
 * Per-user quota, end to end: real server, stock OpenSSH `sftp`, ssh2 and
 * ssh2-sftp-client. After every operation the ledger must equal what a walk of
 * the home on disk finds (each name of a regular file counted with its size,
 * directories and symlinks as files with a charge of their own).
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import SftpClient from 'ssh2-sftp-client';
import type { Client, OpenMode, SFTPWrapper } from 'ssh2';
import { openStore } from '../../src/store/open';
import { Status } from '../../src/sftp/constants';
import { sftpBatch, type ClientRun, type Credentials } from '../helpers/openssh';
import { expectLedgerMatchesDisk, ledger, quotaUsage, setQuota } from '../helpers/quota';
import { startTestServer, type TestServer } from '../helpers/server';
import { call, connectClient, endClient, expectFailure, openSftp } from '../helpers/ssh-client';
import { sha256File, writeRandomFile } from '../helpers/files';

const MiB = 1024 * 1024;
const USER = 'zhangsan';
const creds: Credentials = { user: USER, password: '123' };
const QUOTA_MESSAGE = /quota exceeded: [\d.]+ (B|KiB|MiB|GiB) of [\d.]+ (B|KiB|MiB|GiB) used/;

function expectSuccess(run: ClientRun): void {
  expect(run.code, `sftp failed:\n${run.stderr}\n${run.stdout}`).to.equal(0);
}

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}

/** True when `file` holds exactly the first bytes of `source`. */
async function isPrefixOf(file: string, source: string): Promise<boolean> {
  const [a, b] = await Promise.all([fsp.readFile(file), fsp.readFile(source)]);
  return a.length <= b.length && a.equals(b.subarray(0, a.length));
}

/** Polls `check` until it holds (log lines reach the file through a stream). */
async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function logLines(server: TestServer): Promise<Array<Record<string, unknown>>> {
  const dir = path.join(server.dataDir, 'log');
  const lines: Array<Record<string, unknown>> = [];
  for (const name of await fsp.readdir(dir)) {
    const text = await fsp.readFile(path.join(dir, name), 'utf8');
    for (const line of text.split('\n')) {
      if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
    }
  }
  return lines;
}

/** The numbers of the line under the header of OpenSSH's `df` (1 KiB units). */
function dfFigures(stdout: string): { size: number; used: number; avail: number } {
  const lines = stdout.split('\n');
  const header = lines.findIndex((l) => /^\s+Size\s+Used\s+Avail/.test(l));
  expect(header, `no df output in:\n${stdout}`).to.be.at.least(0);
  const cols = (lines[header + 1] ?? '').trim().split(/\s+/).map(Number);
  return { size: cols[0] ?? NaN, used: cols[1] ?? NaN, avail: cols[2] ?? NaN };
}

describe('quota: an upload past the quota (OpenSSH sftp, 5 MiB default quota)', function () {
  let server: TestServer;
  let local: string;
  let home: string;

  before(async function () {
    server = await startTestServer({ flags: ['--default-quota', '5M'] });
    home = server.home(USER);
    local = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-quota-'));
    await writeRandomFile(path.join(local, 'small.bin'), MiB);
    await writeRandomFile(path.join(local, 'other.bin'), MiB);
    await writeRandomFile(path.join(local, 'big.bin'), 6 * MiB);
  });

  after(async function () {
    await server?.stop();
    if (local) await fsp.rm(local, { recursive: true, force: true });
  });

  const batch = (commands: string[]): Promise<ClientRun> =>
    sftpBatch(server.port, creds, commands, { cwd: local });

  it('gives new users the configured default quota', async function () {
    expect((await server.store.users.get(USER))?.quotaBytes).to.equal(5 * MiB);
    expect((await server.quota.get(USER)).limits.bytes).to.equal(5 * MiB);
  });

  it('fails the put, keeps the bytes written, counts them, and the session goes on', async function () {
    // "-put": sftp goes on with the batch when the put fails.
    const run = await batch([
      'put small.bin',
      'put other.bin',
      '-put big.bin',
      'get small.bin small.back',
      'rm other.bin',
      'ls -l',
    ]);
    expectSuccess(run);
    expect(run.stderr).to.match(/big\.bin.*Failure/);
    // The session was still usable after the refused write: get and rm ran.
    expect(await sha256File(path.join(local, 'small.back'))).to.equal(
      await sha256File(path.join(local, 'small.bin')),
    );
    expect(await exists(path.join(home, 'other.bin'))).to.equal(false);

    const partial = (await fsp.stat(path.join(home, 'big.bin'))).size;
    expect(partial)
      .to.be.above(0)
      .and.below(4 * MiB);
    expect(await isPrefixOf(path.join(home, 'big.bin'), path.join(local, 'big.bin'))).to.equal(
      true,
    );
    const disk = await expectLedgerMatchesDisk(server);
    expect(disk.bytes).to.equal(partial + MiB);
    expect(disk.bytes).to.be.at.most(5 * MiB);
    // The refusal came from the quota: what was left could not hold the next write.
    expect(partial + 2 * MiB + 256 * 1024).to.be.above(5 * MiB);

    // The server is alive for a new session too.
    expectSuccess(await batch(['ls']));
  });

  it('logs the refusal once per upload with user, path, attempted size, used and quota', async function () {
    let refusals: Array<Record<string, unknown>> = [];
    await waitFor('the quota.exceeded log line', async () => {
      refusals = (await logLines(server)).filter((l) => l.event === 'quota.exceeded');
      return refusals.length > 0;
    });
    expect(refusals).to.have.length(1);
    const line = refusals[0] as Record<string, unknown>;
    expect(line).to.include({ user: USER, path: '/big.bin', quota: 5 * MiB, op: 'write' });
    expect(line.attempted).to.be.a('number').above(0);
    expect(line.used)
      .to.be.a('number')
      .at.most(5 * MiB);
    expect((line.used as number) + (line.attempted as number)).to.be.above(5 * MiB);
  });

  it('shows the quota in df, and the real disk to an unlimited user', async function () {
    const limited = dfFigures((await batch(['df'])).stdout);
    expect(limited.size).to.equal((5 * MiB) / 1024);
    const used = (await ledger(server)).bytes;
    // Used and free are whole blocks of the underlying filesystem.
    expect(limited.used * 1024).to.be.at.least(used);
    expect(limited.avail * 1024).to.be.at.most(5 * MiB - used);
    expect(limited.size - limited.used).to.equal(limited.avail);

    await setQuota(server, 0);
    try {
      const unlimited = dfFigures((await batch(['df'])).stdout);
      const real = await fsp.statfs(home);
      expect(unlimited.size).to.equal(Math.floor((real.blocks * real.bsize) / 1024));
    } finally {
      await setQuota(server, 5 * MiB);
    }
  });

  it('lets OpenSSH reput finish the rejected upload once the quota is raised', async function () {
    await setQuota(server, 20 * MiB);
    expectSuccess(await batch(['reput big.bin']));
    expect(await sha256File(path.join(home, 'big.bin'))).to.equal(
      await sha256File(path.join(local, 'big.bin')),
    );
    const disk = await expectLedgerMatchesDisk(server);
    expect(disk.bytes).to.equal(7 * MiB);
  });

  it('gives ssh2-sftp-client the quota message in its error', async function () {
    await setQuota(server, (await ledger(server)).bytes + 512 * 1024);
    const client = new SftpClient();
    await client.connect({
      host: '127.0.0.1',
      port: server.port,
      username: USER,
      password: '123',
    });
    try {
      // fastPut, not put: put() streams through ssh2's WriteStream, which
      // destroys itself before passing a write error on, so ssh2-sftp-client
      // resolves put() as a success whatever the server answered.
      let caught: unknown;
      await client.fastPut(path.join(local, 'small.bin'), '/too-big.bin').catch((err: unknown) => {
        caught = err;
      });
      expect(caught).to.be.instanceOf(Error);
      expect((caught as Error).message).to.match(QUOTA_MESSAGE);
      // The same connection still works.
      const names = (await client.list('/')).map((e) => e.name);
      expect(names).to.include('big.bin');
    } finally {
      await client.end();
    }
    await expectLedgerMatchesDisk(server);
    expect((await ledger(server)).bytes).to.be.at.most((await server.quota.get(USER)).limits.bytes);
  });
});

describe('quota: every operation keeps usage equal to the disk', function () {
  let server: TestServer;
  let local: string;
  let home: string;
  let client: Client;
  let sftp: SFTPWrapper;

  before(async function () {
    server = await startTestServer({ flags: ['--default-quota', '64M'] });
    home = server.home(USER);
    local = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-quota-ops-'));
    await writeRandomFile(path.join(local, 'one.bin'), MiB);
    await writeRandomFile(path.join(local, 'two.bin'), 2 * MiB);
    await writeRandomFile(path.join(local, 'three.bin'), 3 * MiB);
    client = await connectClient(server.port, { user: USER, password: '123' });
    sftp = await openSftp(client);
  });

  after(async function () {
    if (client) await endClient(client);
    await server?.stop();
    if (local) await fsp.rm(local, { recursive: true, force: true });
  });

  afterEach(async function () {
    await setQuota(server, 64 * MiB);
  });

  const batch = (commands: string[]): Promise<ClientRun> =>
    sftpBatch(server.port, creds, commands, { cwd: local });

  const open = (p: string, flags: OpenMode): Promise<Buffer> =>
    call<Buffer>((cb) => sftp.open(p, flags, cb));
  const close = (h: Buffer): Promise<void> => call((cb) => sftp.close(h, cb));
  const write = (h: Buffer, pos: number, data: Buffer): Promise<void> =>
    call((cb) => sftp.write(h, data, 0, data.length, pos, cb));

  it('overwrite with TRUNC gives the old size back', async function () {
    expectSuccess(await batch(['put three.bin a.bin']));
    expect((await expectLedgerMatchesDisk(server)).bytes).to.equal(3 * MiB);
    expectSuccess(await batch(['put one.bin a.bin']));
    expect((await expectLedgerMatchesDisk(server)).bytes).to.equal(MiB);
  });

  it('rename over an existing file (posix-rename) gives the replaced file back', async function () {
    expectSuccess(await batch(['put two.bin b.bin', 'put three.bin c.bin']));
    expect((await expectLedgerMatchesDisk(server)).files).to.equal(3);
    // OpenSSH's sftp renames with posix-rename@openssh.com when the server offers it.
    expectSuccess(await batch(['rename b.bin c.bin']));
    const disk = await expectLedgerMatchesDisk(server);
    expect(disk).to.deep.equal({ bytes: 3 * MiB, files: 2 });
  });

  it('remove gives the space back', async function () {
    expectSuccess(await batch(['rm c.bin']));
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal({ bytes: MiB, files: 1 });
  });

  it('SETSTAT and FSETSTAT grow and shrink a file, growth is checked', async function () {
    await call((cb) => sftp.setstat('/a.bin', { size: 5 * MiB }, cb));
    expect((await expectLedgerMatchesDisk(server)).bytes).to.equal(5 * MiB);
    await call((cb) => sftp.setstat('/a.bin', { size: 100 }, cb));
    expect((await expectLedgerMatchesDisk(server)).bytes).to.equal(100);

    const h = await open('/a.bin', 'r+');
    try {
      await call((cb) => sftp.fsetstat(h, { size: 2 * MiB }, cb));
      expect((await expectLedgerMatchesDisk(server)).bytes).to.equal(2 * MiB);
      await setQuota(server, 3 * MiB);
      const err = await expectFailure(
        call((cb) => sftp.fsetstat(h, { size: 4 * MiB }, cb)),
        Status.FAILURE,
      );
      expect(err.message).to.match(QUOTA_MESSAGE);
      await call((cb) => sftp.fsetstat(h, { size: MiB }, cb));
    } finally {
      await close(h);
    }
    const err = await expectFailure(
      call((cb) => sftp.setstat('/a.bin', { size: 4 * MiB }, cb)),
      Status.FAILURE,
    );
    expect(err.message).to.match(QUOTA_MESSAGE);
    expect((await expectLedgerMatchesDisk(server)).bytes).to.equal(MiB);
  });

  it('a hard link counts its size again, and so does growing either name', async function () {
    expectSuccess(await batch(['ln a.bin a-link.bin']));
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal({ bytes: 2 * MiB, files: 2 });

    // Writing past the end through one name grows both.
    const h = await open('/a-link.bin', 'r+');
    try {
      await write(h, MiB, Buffer.alloc(MiB, 1));
      expect((await ledger(server)).bytes).to.equal(4 * MiB);
    } finally {
      await close(h);
    }
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal({ bytes: 4 * MiB, files: 2 });

    await setQuota(server, 5 * MiB);
    const err = await expectFailure(
      call((cb) => sftp.ext_openssh_hardlink('/a.bin', '/a-link2.bin', cb)),
      Status.FAILURE,
    );
    expect(err.message).to.match(QUOTA_MESSAGE);
    expect(await exists(path.join(home, 'a-link2.bin'))).to.equal(false);
    expectSuccess(await batch(['rm a-link.bin']));
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal({ bytes: 2 * MiB, files: 1 });
  });

  it('copy-data is charged, and refused as a whole before anything is copied', async function () {
    // OpenSSH's sftp `cp` uses copy-data.
    expectSuccess(await batch(['cp a.bin copy.bin']));
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal({ bytes: 4 * MiB, files: 2 });

    await setQuota(server, 5 * MiB);
    const run = await batch(['cp a.bin copy2.bin']);
    expect(run.code).to.not.equal(0);
    // `cp` creates the target with TRUNC first; the copy itself wrote nothing.
    expect((await fsp.stat(path.join(home, 'copy2.bin'))).size).to.equal(0);
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal({ bytes: 4 * MiB, files: 3 });
    expectSuccess(await batch(['rm copy.bin', 'rm copy2.bin']));
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal({ bytes: 2 * MiB, files: 1 });
  });

  it('a file-count quota refuses the file that would pass it', async function () {
    await setQuota(server, 64 * MiB, 2);
    const run = await batch(['put one.bin f1.bin', '-put one.bin f2.bin', 'ls']);
    expectSuccess(run);
    expect(await exists(path.join(home, 'f2.bin'))).to.equal(false);
    const err = await expectFailure(open('/f3.bin', 'w'), Status.FAILURE);
    expect(err.message).to.match(/quota exceeded: 2 of 2 files used/);
    // Overwriting an existing file creates none.
    expectSuccess(await batch(['put two.bin f1.bin']));
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal({ bytes: 4 * MiB, files: 2 });
    expectSuccess(await batch(['rm f1.bin']));
  });

  it('a file removed while open stays charged until it is closed', async function () {
    const h = await open('/open.bin', 'w');
    try {
      await write(h, 0, Buffer.alloc(MiB, 2));
      await call((cb) => sftp.unlink('/open.bin', cb));
      // Its bytes are still on the disk while the handle is open.
      expect(await ledger(server)).to.deep.equal({ bytes: 3 * MiB, files: 1 });
      await write(h, MiB, Buffer.alloc(MiB, 3));
      expect((await ledger(server)).bytes).to.equal(4 * MiB);
    } finally {
      await close(h);
    }
    expect(await expectLedgerMatchesDisk(server)).to.deep.equal({ bytes: 2 * MiB, files: 1 });
  });

  it('several files uploading at once in one session share the reservation', async function () {
    await setQuota(server, (await ledger(server)).bytes + 4 * MiB);
    const results = await Promise.allSettled(
      ['p1.bin', 'p2.bin', 'p3.bin'].map((name) =>
        call((cb) => sftp.fastPut(path.join(local, 'two.bin'), `/${name}`, cb)),
      ),
    );
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed.length).to.be.at.least(1);
    for (const f of failed) expect(String(f.reason)).to.match(QUOTA_MESSAGE);
    const disk = await expectLedgerMatchesDisk(server);
    expect(disk.bytes).to.be.at.most((await server.quota.get(USER)).limits.bytes);
    for (const name of ['p1.bin', 'p2.bin', 'p3.bin']) {
      const file = path.join(home, name);
      expect(await isPrefixOf(file, path.join(local, 'two.bin')), name).to.equal(true);
      await fsp.rm(file);
    }
    await server.quota.rescan(USER);
  });
});

describe('quota: two clients of one user racing for the last megabytes', function () {
  let server: TestServer;
  let local: string;

  before(async function () {
    server = await startTestServer({ flags: ['--default-quota', '8M'] });
    local = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-quota-race-'));
    await writeRandomFile(path.join(local, 'first.bin'), 6 * MiB);
    await writeRandomFile(path.join(local, 'second.bin'), 6 * MiB);
  });

  after(async function () {
    await server?.stop();
    if (local) await fsp.rm(local, { recursive: true, force: true });
  });

  it('never lets usage pass the quota, and usage equals the disk afterwards', async function () {
    const usage = await server.quota.get(USER);
    let highest = 0;
    const sampler = setInterval(() => {
      highest = Math.max(highest, usage.bytes);
    }, 1);
    let runs: ClientRun[];
    try {
      runs = await Promise.all(
        ['first.bin', 'second.bin'].map((name) =>
          sftpBatch(server.port, creds, [`-put ${name}`], { cwd: local }),
        ),
      );
    } finally {
      clearInterval(sampler);
    }
    for (const run of runs) expectSuccess(run);
    // At least one of them ran into the quota: 12 MiB cannot fit in 8.
    expect(runs.map((r) => r.stderr).join('')).to.match(/Failure/);
    expect(highest).to.be.at.most(8 * MiB);
    const disk = await expectLedgerMatchesDisk(server);
    expect(disk.bytes).to.be.at.most(8 * MiB);
    for (const name of ['first.bin', 'second.bin']) {
      expect(
        await isPrefixOf(path.join(server.home(USER), name), path.join(local, name)),
        name,
      ).to.equal(true);
    }
  });
});

describe('quota: persisted across restarts and rebuilt from disk', function () {
  let server: TestServer;
  let dataDir: string;
  let local: string;

  before(async function () {
    server = await startTestServer();
    dataDir = server.dataDir;
    local = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-quota-restart-'));
    await writeRandomFile(path.join(local, 'one.bin'), MiB);
  });

  after(async function () {
    await server?.stop();
    if (local) await fsp.rm(local, { recursive: true, force: true });
  });

  it('keeps the same usage after a restart on the same data directory', async function () {
    expectSuccess(
      await sftpBatch(server.port, creds, ['put one.bin', 'mkdir d', 'put one.bin d/x.bin'], {
        cwd: local,
      }),
    );
    const before = await expectLedgerMatchesDisk(server);
    await server.close();
    // Stopping persisted the figure.
    const store = await openStore({ file: path.join(dataDir, 'miniftp.db') });
    try {
      expect(await store.usage.get(USER)).to.include({ bytes: before.bytes, files: before.files });
    } finally {
      await store.close();
    }
    server = await startTestServer({ dataDir });
    expect(await ledger(server)).to.deep.equal(before);
  });

  it('rescan picks up files changed behind the server’s back', async function () {
    const before = await ledger(server);
    await fsp.writeFile(path.join(server.home(USER), 'd', 'behind.bin'), Buffer.alloc(12345));
    expect(await ledger(server)).to.deep.equal(before);
    const scanned = await server.quota.rescan(USER);
    expect(scanned).to.deep.equal({ bytes: before.bytes + 12345, files: before.files + 1 });
    await expectLedgerMatchesDisk(server);
    expect(await server.store.usage.get(USER)).to.include(scanned);
  });

  it('rescan keeps the charge of files open for writing, even one removed meanwhile', async function () {
    const client = await connectClient(server.port, { user: USER, password: '123' });
    try {
      const sftp = await openSftp(client);
      const h = await call<Buffer>((cb) => sftp.open('/open.bin', 'w', cb));
      const data = Buffer.alloc(MiB, 5);
      await call((cb) => sftp.write(h, data, 0, data.length, 0, cb));
      await server.quota.rescan(USER);
      await expectLedgerMatchesDisk(server);
      // Removed while open: no name left for a scan to find, but its bytes are on the disk.
      await call((cb) => sftp.unlink('/open.bin', cb));
      const disk = await quotaUsage(await fsp.realpath(server.home(USER)));
      await server.quota.rescan(USER);
      expect(await ledger(server)).to.deep.equal({ bytes: disk.bytes + MiB, files: disk.files });
      await call((cb) => sftp.write(h, data, 0, data.length, MiB, cb));
      await call((cb) => sftp.close(h, cb));
    } finally {
      await endClient(client);
    }
    await expectLedgerMatchesDisk(server);
  });
});
