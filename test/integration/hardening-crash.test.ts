/**
 * A server killed outright (SIGKILL) in the middle of an upload: restarted on
 * the same data directory it opens its database cleanly, its usage after the
 * start-up rescan matches the disk, and MiniFTP's client resumes the upload
 * byte-exact through resume-upload@miniftp.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import type { Client, SFTPWrapper } from 'ssh2';
import { connect } from '../../src/client/connect';
import { upload } from '../../src/client/transfer';
import { regularFilesUnder, sha256File, writeRandomFile } from '../helpers/files';
import { sshExec } from '../helpers/openssh';
import { waitUntil } from '../helpers/probe';
import { makeDataDir } from '../helpers/server';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';
import { call, connectClient, openSftp } from '../helpers/ssh-client';

const MiB = 1024 * 1024;
const BLOCK = 256 * 1024;

interface UsageRow {
  name: string;
  usedBytes: number;
  usedFiles: number;
  scannedAt: string | null;
}

describe('hardening: crash during an upload', function () {
  let dataDir: string;
  let localDir: string;
  let server: ServerProcess | undefined;

  before(async function () {
    dataDir = await makeDataDir();
    localDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-crash-local-'));
  });

  after(async function () {
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    await fsp.rm(dataDir, { recursive: true, force: true });
    await fsp.rm(localDir, { recursive: true, force: true });
  });

  it('restarts cleanly, usage matches the disk, and the upload resumes byte-exact', async function () {
    const local = path.join(localDir, 'big.bin');
    await writeRandomFile(local, 8 * MiB);
    const content = await fsp.readFile(local);

    server = await startServerProcess(dataDir);
    const client: Client = await connectClient(server.port, { user: 'zhangsan', password: '123' });
    const dropped = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.on('error', () => undefined);
    const sftp: SFTPWrapper = await openSftp(client);
    sftp.on('error', () => undefined);
    const handle = await call<Buffer>((cb) => sftp.open('/big.bin', 'w', cb));
    let acknowledged = 0;
    while (acknowledged < 3 * MiB) {
      await call((cb) => sftp.write(handle, content, acknowledged, BLOCK, acknowledged, cb));
      acknowledged += BLOCK;
    }
    // One more write on its way while the server dies.
    sftp.write(handle, content, acknowledged, BLOCK, acknowledged, () => undefined);
    server.child.kill('SIGKILL');
    const killed = await server.exited;
    expect(killed.signal).to.equal('SIGKILL');
    await dropped;

    const home = path.join(dataDir, 'docs', 'zhangsan');
    const partial = (await fsp.stat(path.join(home, 'big.bin'))).size;
    expect(partial).to.be.at.least(acknowledged);
    expect(partial).to.be.below(content.length);

    // Restarted on the same data directory.
    const startedAt = new Date();
    server = await startServerProcess(dataDir);
    const port = server.port;
    const disk = await regularFilesUnder(home);
    let row: UsageRow | undefined;
    await waitUntil('the start-up rescan', async () => {
      const run = await sshExec(port, { user: 'admin', password: 'password' }, [
        'usage',
        'zhangsan',
        '--json',
      ]);
      expect(run.code, run.stderr).to.equal(0);
      row = (JSON.parse(run.stdout) as UsageRow[])[0];
      return row?.scannedAt != null && new Date(row.scannedAt) >= startedAt;
    });
    expect(row).to.include({ name: 'zhangsan', usedBytes: disk.bytes, usedFiles: disk.files });
    expect(disk.bytes).to.equal(partial);

    // MiniFTP's own client proves the prefix and continues from it.
    const conn = await connect({ host: '127.0.0.1', port, username: 'zhangsan', password: '123' });
    try {
      const result = await upload(conn.sftp, local, '/big.bin', { resume: 'auto' });
      expect(result.resumedFrom).to.equal(partial);
      expect(result.bytesSent).to.equal(content.length - partial);
      expect(result.verified).to.equal(true);
    } finally {
      await conn.close();
    }
    expect(await sha256File(path.join(home, 'big.bin'))).to.equal(await sha256File(local));

    server.child.kill('SIGTERM');
    expect((await server.exited).code).to.equal(0);
    // The database survived both the kill and the restart intact.
    const db = new BetterSqlite3(path.join(dataDir, 'miniftp.db'), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).to.equal('ok');
    } finally {
      db.close();
    }
  });
});
