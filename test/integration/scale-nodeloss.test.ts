/**
 * A process killed outright mid-upload leaves the stored usage exact, without
 * a rescan: its settles recorded on the file's writer lease what the usage
 * counts for the file, and once the lease has run out the other process (its
 * sweep, or the OPEN of a resume) charges what the disk holds beyond that.
 * Two server processes on one store, the upload through ssh2, the resume
 * through OpenSSH's `sftp reput`.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import type { Client, SFTPWrapper } from 'ssh2';
import { sha256File, writeRandomFile } from '../helpers/files';
import { haveOpenSsh, sftpBatch } from '../helpers/openssh';
import { logLines, waitForLog, waitUntil } from '../helpers/probe';
import { quotaUsage, type Usage } from '../helpers/quota';
import { makeDataDir } from '../helpers/server';
import {
  startServerProcess,
  type ServerProcess,
  stopServerProcesses,
} from '../helpers/server-process';
import { call, connectClient, openSftp } from '../helpers/ssh-client';
import { sessionsOf } from '../helpers/cluster';
import { openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import { SHARINGS } from '../helpers/sharings';

const MiB = 1024 * 1024;
const BLOCK = 256 * 1024;
const USER = { user: 'zhangsan', password: '123' };
/** Seconds: a killed process's lease runs out this long after its last renewal. */
const LEASE = 2;

/**
 * Uploads the first 3.25 MiB of `content` to `remote` through the server on `port`, waits
 * until a settle has recorded the file's charge on its lease, then writes 1 MiB more (which
 * the usage does not count yet, unless a settle comes before the kill that follows).
 */
async function uploadPart(
  port: number,
  remote: string,
  content: Buffer,
  store: Store,
): Promise<void> {
  const client: Client = await connectClient(port, USER);
  client.on('error', () => undefined);
  const sftp: SFTPWrapper = await openSftp(client);
  sftp.on('error', () => undefined);
  const handle = await call<Buffer>((cb) => sftp.open(remote, 'w', cb));
  let sent = 0;
  const send = async (upTo: number): Promise<void> => {
    while (sent < upTo) {
      await call((cb) => sftp.write(handle, content, sent, BLOCK, sent, cb));
      sent += BLOCK;
    }
  };
  await send(3 * MiB + BLOCK);
  await waitUntil('a settle recorded the charge on the lease', async () => {
    const row = await store.sql.get<{ charged: number | string }>(
      'SELECT charged FROM upload_leases WHERE path = $1',
      [remote],
    );
    return Number(row?.charged) === 1;
  });
  await send(4 * MiB + BLOCK);
}

/**
 * Waits until a live process has ended the lease of `remote` (log line `upload.lease_expired`),
 * then checks that the usage `store` holds is what the home holds; returns how long after `since`
 * the lease was ended.
 */
async function exactAfter(
  store: Store,
  dataDir: string,
  remote: string,
  since: number,
): Promise<number> {
  const ended = await waitForLog(dataDir, 'upload.lease_expired', { path: remote });
  const took = Date.now() - since;
  if (process.env.MINIFTP_TIMINGS) {
    console.log(
      `      lease ended ${took} ms after the kill, ${String(ended.usage_corrected)} B added`,
    );
  }
  const stored = await store.usage.get(USER.user);
  const disk = await quotaUsage(path.join(dataDir, 'docs', USER.user));
  expect({ bytes: stored.bytes, files: stored.files }, 'the stored usage').to.deep.equal(disk);
  return took;
}

for (const sharing of SHARINGS) {
  describe(`a process lost mid-upload leaves exact usage (${sharing.name})`, function () {
    this.timeout(60_000);
    let dataDir: string;
    let localDir: string;
    let home: string;
    let store: Store | undefined;
    let flags: string[] = [];
    const nodes: ServerProcess[] = [];

    before(async function () {
      if (!(await haveOpenSsh()))
        throw new Error('sftp is not installed: apt-get install openssh-client');
      dataDir = await makeDataDir();
      home = path.join(dataDir, 'docs', USER.user);
      localDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-nodeloss-'));
      const shared = await sharing.setup(dataDir);
      flags = [...shared.flags, '--lease-time', String(LEASE), '--checkpoint-every', '1M'];
      nodes.push(await startServerProcess(dataDir, flags));
      nodes.push(await startServerProcess(dataDir, flags));
      store = await shared.open();
    });

    after(async function () {
      await store?.close();
      await stopServerProcesses(nodes);
      if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
      if (localDir) await fsp.rm(localDir, { recursive: true, force: true });
    });

    async function killMidUpload(
      writer: ServerProcess,
      remote: string,
      content: Buffer,
    ): Promise<number> {
      await uploadPart(writer.port, remote, content, store as Store);
      writer.child.kill('SIGKILL');
      const killedAt = Date.now();
      await writer.exited;
      return killedAt;
    }

    async function storedUsage(): Promise<Usage> {
      const u = await (store as Store).usage.get(USER.user);
      return { bytes: u.bytes, files: u.files };
    }

    it('with no resume: exact once the lease has run out, corrected by the other process', async function () {
      const [a, b] = nodes as [ServerProcess, ServerProcess];
      const local = path.join(localDir, 'a.bin');
      await writeRandomFile(local, 8 * MiB);
      const content = await fsp.readFile(local);
      const killedAt = await killMidUpload(a, '/a.bin', content);
      const onDisk = (await fsp.stat(path.join(home, 'a.bin'))).size;
      expect(onDisk).to.be.at.least(4 * MiB + BLOCK);
      await exactAfter(store as Store, dataDir, '/a.bin', killedAt);
      expect((await storedUsage()).bytes).to.equal(onDisk);
      const ended = (await logLines(dataDir)).filter((l) => l.event === 'upload.lease_expired');
      expect(ended.map((l) => l.path)).to.deep.equal(['/a.bin']);
      // B, untouched, still serves; the lease is gone.
      expect(b.child.exitCode).to.equal(null);
      expect(await (store as Store).sql.get('SELECT path FROM upload_leases')).to.equal(undefined);
    });

    it('resumed at once on the other process with `sftp reput`: exact, and the file byte-exact', async function () {
      // A new writer process: the first one of this file was killed above.
      const writer = await startServerProcess(dataDir, flags);
      nodes.push(writer);
      const resumer = nodes[1] as ServerProcess;
      const local = path.join(localDir, 'b.bin');
      await writeRandomFile(local, 8 * MiB);
      const content = await fsp.readFile(local);
      const killedAt = await killMidUpload(writer, '/b.bin', content);
      // While the dead writer's lease still runs: reput opens the file and writes from its end.
      const run = await sftpBatch(resumer.port, USER, [`reput ${local} /b.bin`]);
      expect(run.code, run.stderr).to.equal(0);
      expect(await sha256File(path.join(home, 'b.bin'))).to.equal(await sha256File(local));
      await exactAfter(store as Store, dataDir, '/b.bin', killedAt);
      const disk = await quotaUsage(home);
      expect(disk.files).to.equal(2);
      expect(await storedUsage()).to.deep.equal(disk);
    });

    it('the resuming process takes the lease once it runs out, and is lost too: still exact', async function () {
      const writer = await startServerProcess(dataDir, flags);
      nodes.push(writer);
      const resumer = nodes[1] as ServerProcess;
      const local = path.join(localDir, 'c.bin');
      await writeRandomFile(local, 8 * MiB);
      const content = await fsp.readFile(local);
      await killMidUpload(writer, '/c.bin', content);
      // The resume opens the file without truncating it while the dead writer's lease runs,
      // writes on from the end, and keeps the handle open.
      const client: Client = await connectClient(resumer.port, USER);
      client.on('error', () => undefined);
      const sftp: SFTPWrapper = await openSftp(client);
      sftp.on('error', () => undefined);
      let at = (await fsp.stat(path.join(home, 'c.bin'))).size;
      const handle = await call<Buffer>((cb) => sftp.open('/c.bin', 'r+', cb));
      const until = at + 2 * MiB;
      for (; at < until; at += BLOCK) {
        await call((cb) => sftp.write(handle, content, at, BLOCK, at, cb));
      }
      // Once the dead writer's lease has run out, the resumer holds it, and its settles record
      // its charge there.
      await waitForLog(dataDir, 'upload.lease_expired', { path: '/c.bin' });
      await waitUntil('the resumer holds the lease, its charge recorded', async () => {
        const row = await (store as Store).sql.get<{ charged: number | string }>(
          'SELECT charged FROM upload_leases WHERE path = $1',
          ['/c.bin'],
        );
        return Number(row?.charged) === 1;
      });
      for (const end = at + MiB; at < end; at += BLOCK) {
        await call((cb) => sftp.write(handle, content, at, BLOCK, at, cb));
      }
      resumer.child.kill('SIGKILL');
      const killedAt = Date.now();
      await resumer.exited;
      const last = await startServerProcess(dataDir, flags);
      nodes.push(last);
      await waitUntil(
        'the lease ended twice',
        async () =>
          (await logLines(dataDir)).filter(
            (l) => l.event === 'upload.lease_expired' && l.path === '/c.bin',
          ).length === 2,
        5 * LEASE * 1000,
      );
      if (process.env.MINIFTP_TIMINGS) {
        console.log(`      second lease ended ${Date.now() - killedAt} ms after the kill`);
      }
      expect(await storedUsage()).to.deep.equal(await quotaUsage(home));
    });
  });
}

describe('a worker lost mid-upload leaves exact usage (--workers 2 on SQLite)', function () {
  this.timeout(60_000);
  let dataDir: string;
  let localDir: string;
  let server: ServerProcess | undefined;
  let store: Store | undefined;

  before(async function () {
    if (!(await haveOpenSsh()))
      throw new Error('sftp is not installed: apt-get install openssh-client');
    dataDir = await makeDataDir();
    localDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-nodeloss-workers-'));
    server = await startServerProcess(dataDir, ['--workers', '2', '--lease-time', String(LEASE)]);
    store = await openStore({ file: path.join(dataDir, 'miniftp.db'), shared: true });
  });

  after(async function () {
    await store?.close();
    if (server) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
    if (localDir) await fsp.rm(localDir, { recursive: true, force: true });
  });

  it('the worker carrying the upload is killed: exact once its lease has run out', async function () {
    const port = (server as ServerProcess).port;
    const local = path.join(localDir, 'w.bin');
    await writeRandomFile(local, 8 * MiB);
    await uploadPart(port, '/w.bin', await fsp.readFile(local), store as Store);
    const rows = (await sessionsOf(port)).filter((r) => r.user === USER.user);
    expect(rows).to.have.length(1);
    const victim = rows[0]?.pid as number;
    process.kill(victim, 'SIGKILL');
    const killedAt = Date.now();
    await exactAfter(store as Store, dataDir, '/w.bin', killedAt);
    expect((await (store as Store).usage.get(USER.user)).bytes).to.equal(
      (await fsp.stat(path.join(dataDir, 'docs', USER.user, 'w.bin'))).size,
    );
  });
});
