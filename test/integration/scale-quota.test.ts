/**
 * Quota across processes sharing one store: three server processes on one
 * database (the data directory's SQLite file with `--shared-store`, or one
 * PostgreSQL with `--store-url`) and one homes root, OpenSSH sftp clients
 * racing uploads through all three under one user's quota. What reaches the
 * disk never passes the quota, and the usage the store holds afterwards is
 * what the disk holds. A process killed outright gives its grant back after
 * its lease, so the others can use that quota.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { writeRandomFile } from '../helpers/files';
import { haveOpenSsh, sftpBatch, sshExec } from '../helpers/openssh';
import { waitUntil } from '../helpers/probe';
import { quotaUsage, raceUploadsUnderQuota, type Usage } from '../helpers/quota';
import { makeDataDir } from '../helpers/server';
import {
  startServerProcess,
  type ServerProcess,
  stopServerProcesses,
} from '../helpers/server-process';
import { SHARINGS, type Sharing } from '../helpers/sharings';
import type { Store } from '../../src/store/types';

const MiB = 1024 * 1024;
const QUOTA = 6 * MiB;
const CREDS = { user: 'zhangsan', password: '123' };

/** The usage and live grants the shared store holds for zhangsan. */
async function storeFigures(store: Store): Promise<{ usage: Usage; granted: number }> {
  const usage = await store.usage.get('zhangsan');
  const grants = await store.sql.get<{ b: number | string }>(
    `SELECT coalesce(sum(bytes), 0) AS b FROM quota_grants
     WHERE "user" = $1 AND expires_at > $2`,
    ['zhangsan', Date.now()],
  );
  return { usage: { bytes: usage.bytes, files: usage.files }, granted: Number(grants?.b ?? 0) };
}

for (const sharing of SHARINGS) describeScaleQuota(sharing);

function describeScaleQuota(sharing: Sharing): void {
  describe(`scale: quota exact across ${sharing.name}`, function () {
    let dataDir: string;
    let localDir: string;
    let store: Store | undefined;
    const nodes: ServerProcess[] = [];

    before(async function () {
      this.timeout(60_000);
      if (!(await haveOpenSsh())) this.skip();
      dataDir = await makeDataDir();
      const shared = await sharing.setup(dataDir);
      const flags = [...shared.flags, '--default-quota', '6M', '--lease-time', '2'];
      localDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-scale-quota-'));
      // The first creates the database and the accounts; the others join it.
      nodes.push(await startServerProcess(dataDir, flags));
      nodes.push(...(await Promise.all([1, 2].map(() => startServerProcess(dataDir, flags)))));
      store = await shared.open();
    });

    after(async function () {
      await store?.close();
      await stopServerProcesses(nodes);
      if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
      if (localDir) await fsp.rm(localDir, { recursive: true, force: true });
    });

    it('racing uploads on three processes never put more than the quota on disk, and usage equals the disk', async function () {
      this.timeout(60_000);
      // Six uploads of 1.5 MiB, two through each process: 9 MiB against 6 MiB.
      const disk = await raceUploadsUnderQuota({
        ports: nodes.map((n) => n.port),
        localDir,
        home: path.join(dataDir, 'docs', 'zhangsan'),
        quota: QUOTA,
      });
      // Each process commits what its sessions changed: the store's usage comes to the disk's.
      await waitUntil('the usage in the store equals the disk', async () => {
        const f = await storeFigures(store as Store);
        return f.usage.bytes === disk.bytes && f.usage.files === disk.files;
      });
    });

    it("gives a killed process's grant back after its lease, for the others to use", async function () {
      this.timeout(60_000);
      const home = await fsp.realpath(path.join(dataDir, 'docs', 'zhangsan'));
      await fsp.rm(home, { recursive: true, force: true });
      await fsp.mkdir(home);
      await waitUntil('the removal is seen', async () => {
        const run = await sftpBatch((nodes[0] as ServerProcess).port, CREDS, ['ls']);
        return run.code === 0;
      });
      // The homes were emptied behind the servers' back: the admin's rescan makes the usage 0.
      const admin = { user: 'admin', password: 'password' };
      const rescan = await sshExec((nodes[0] as ServerProcess).port, admin, [
        'usage',
        'zhangsan',
        '--rescan',
      ]);
      expect(rescan.code, rescan.stderr).to.equal(0);
      await waitUntil(
        'the store holds no usage',
        async () => (await storeFigures(store as Store)).usage.bytes === 0,
      );

      // A slow upload through the third process takes a grant, then the process dies.
      const victim = nodes[2] as ServerProcess;
      await writeRandomFile(path.join(localDir, 'slow.bin'), 4 * MiB);
      const slow = sftpBatch(victim.port, CREDS, ['put slow.bin'], {
        cwd: localDir,
        extraArgs: ['-l', '2048'],
      });
      await waitUntil(
        'the third process holds a grant',
        async () => (await storeFigures(store as Store)).granted > 0,
      );
      victim.child.kill('SIGKILL');
      await victim.exited;
      await slow;
      const partial = (await quotaUsage(home)).bytes;
      expect(partial).to.be.below(4 * MiB);

      // The rest of the quota, the dead process's grant included, through the first process.
      const rest = QUOTA - partial;
      await writeRandomFile(path.join(localDir, 'rest.bin'), rest);
      await waitUntil(
        'the dead grant has run out',
        async () => (await storeFigures(store as Store)).granted === 0,
      );
      const run = await sftpBatch((nodes[0] as ServerProcess).port, CREDS, ['put rest.bin'], {
        cwd: localDir,
      });
      expect(run.code, run.stderr).to.equal(0);
      const disk = await quotaUsage(home);
      expect(disk.bytes).to.be.at.most(QUOTA);
      expect((await fsp.stat(path.join(home, 'rest.bin'))).size).to.equal(rest);
    });

    it('applies a limit the admin changes through one process on the others', async function () {
      this.timeout(60_000);
      const [a, b] = nodes as [ServerProcess, ServerProcess];
      const home = await fsp.realpath(path.join(dataDir, 'docs', 'zhangsan'));
      const admin = { user: 'admin', password: 'password' };
      // What the killed process wrote after its last settle is counted by a rescan (nothing is
      // being uploaded anywhere now, so it is exact).
      const rescan = await sshExec(a.port, admin, ['usage', 'zhangsan', '--rescan']);
      expect(rescan.code, rescan.stderr).to.equal(0);
      expect((await storeFigures(store as Store)).usage).to.deep.equal(await quotaUsage(home));
      const set = await sshExec(a.port, admin, ['quota', 'zhangsan', '7M']);
      expect(set.code, set.stderr).to.equal(0);
      // The other process shows the new limit as the size of the disk (df, in KiB).
      await waitUntil('the other process has the new limit', async () => {
        const run = await sftpBatch(b.port, CREDS, ['df']);
        return /^\s+7168\s/m.test(run.stdout);
      });
      const used = (await quotaUsage(home)).bytes;
      await writeRandomFile(path.join(localDir, 'over.bin'), 7 * MiB - used + MiB);
      const run = await sftpBatch(b.port, CREDS, ['put over.bin'], { cwd: localDir });
      expect(run.code).to.not.equal(0);
      expect((await quotaUsage(home)).bytes).to.be.at.most(7 * MiB);
    });
  });
}
