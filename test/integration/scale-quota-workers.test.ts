/**
 * Quota across the worker processes of one node (`--workers 2` on the data
 * directory's SQLite file): OpenSSH sftp clients racing uploads through the
 * one port, which the primary hands to both workers in turn, never put more
 * than the quota on disk, and the usage in the store comes to what the disk
 * holds.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { haveOpenSsh } from '../helpers/openssh';
import { waitUntil } from '../helpers/probe';
import { raceUploadsUnderQuota } from '../helpers/quota';
import { makeDataDir } from '../helpers/server';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';
import { openStore } from '../../src/store/open';

const MiB = 1024 * 1024;
const QUOTA = 6 * MiB;

describe('scale: quota exact across the workers of one node (--workers 2, SQLite)', function () {
  let dataDir: string;
  let localDir: string;
  let node: ServerProcess | undefined;

  before(async function () {
    this.timeout(60_000);
    if (!(await haveOpenSsh())) this.skip();
    dataDir = await makeDataDir();
    localDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-workers-quota-'));
    node = await startServerProcess(dataDir, ['--workers', '2', '--default-quota', '6M']);
  });

  after(async function () {
    if (node && node.child.exitCode === null && node.child.signalCode === null) {
      node.child.kill('SIGINT');
    }
    await node?.exited;
    if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
    if (localDir) await fsp.rm(localDir, { recursive: true, force: true });
  });

  it('racing uploads never put more than the quota on disk, and usage equals the disk', async function () {
    this.timeout(60_000);
    // Six uploads of 1.5 MiB at once: 9 MiB against 6 MiB, spread over both workers.
    const disk = await raceUploadsUnderQuota({
      ports: [(node as ServerProcess).port],
      localDir,
      home: path.join(dataDir, 'docs', 'zhangsan'),
      quota: QUOTA,
    });
    const store = await openStore({ file: path.join(dataDir, 'miniftp.db'), shared: true });
    try {
      await waitUntil('the usage in the store equals the disk', async () => {
        const u = await store.usage.get('zhangsan');
        return u.bytes === disk.bytes && u.files === disk.files;
      });
    } finally {
      await store.close();
    }
  });
});
