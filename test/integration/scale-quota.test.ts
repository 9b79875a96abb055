/**
 * Quota across processes sharing one data directory (`--shared-store`): three
 * server processes on one database and one homes root, OpenSSH sftp clients
 * racing uploads through all three under one user's quota. What reaches the
 * disk never passes the quota, and the usage the store holds afterwards is
 * what the disk holds. A process killed outright gives its grant back after
 * its lease, so the others can use that quota.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import { writeRandomFile } from '../helpers/files';
import { haveOpenSsh, sftpBatch, sshExec } from '../helpers/openssh';
import { waitUntil } from '../helpers/probe';
import { quotaUsage, type Usage } from '../helpers/quota';
import { makeDataDir } from '../helpers/server';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';

const MiB = 1024 * 1024;
const QUOTA = 6 * MiB;
const CREDS = { user: 'zhangsan', password: '123' };

/** The usage and live grants the shared database holds for zhangsan. */
function storeFigures(dataDir: string): { usage: Usage; granted: number } {
  const db = new BetterSqlite3(path.join(dataDir, 'miniftp.db'), { readonly: true });
  try {
    const usage = db.prepare('SELECT bytes, files FROM usage WHERE user = ?').get('zhangsan') as
      Usage | undefined;
    const grants = db
      .prepare(
        'SELECT coalesce(sum(bytes), 0) AS b FROM quota_grants WHERE user = ? AND expires_at > ?',
      )
      .get('zhangsan', Date.now()) as { b: number };
    return { usage: usage ?? { bytes: 0, files: 0 }, granted: grants.b };
  } finally {
    db.close();
  }
}

describe('scale: quota exact across processes sharing one store', function () {
  let dataDir: string;
  let localDir: string;
  const nodes: ServerProcess[] = [];
  const flags = ['--shared-store', 'true', '--default-quota', '6M', '--lease-time', '2'];

  before(async function () {
    if (!(await haveOpenSsh())) this.skip();
    dataDir = await makeDataDir();
    localDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-scale-quota-'));
    // The first creates the database and the accounts; the others join it.
    nodes.push(await startServerProcess(dataDir, flags));
    nodes.push(...(await Promise.all([1, 2].map(() => startServerProcess(dataDir, flags)))));
  });

  after(async function () {
    for (const n of nodes) {
      if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
      await n.exited;
    }
    if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
    if (localDir) await fsp.rm(localDir, { recursive: true, force: true });
  });

  it('racing uploads on three processes never put more than the quota on disk, and usage equals the disk', async function () {
    this.timeout(60_000);
    // Six uploads of 1.5 MiB, two through each process: 9 MiB against 6 MiB.
    const names = [0, 1, 2, 3, 4, 5].map((i) => `f${i}.bin`);
    for (const n of names) await writeRandomFile(path.join(localDir, n), 1.5 * MiB);
    const runs = await Promise.all(
      names.map((n, i) =>
        sftpBatch((nodes[i % 3] as ServerProcess).port, CREDS, [`put ${n}`], { cwd: localDir }),
      ),
    );
    const refused = runs.filter((r) => r.code !== 0);
    expect(refused.length, 'some uploads must hit the quota').to.be.greaterThan(0);
    // OpenSSH's sftp names the status (FAILURE), not its message.
    for (const r of refused) expect(r.stderr).to.match(/Failure|quota exceeded/);

    const home = await fsp.realpath(path.join(dataDir, 'docs', 'zhangsan'));
    const disk = await quotaUsage(home);
    expect(disk.bytes).to.be.at.most(QUOTA);
    // Every upload that succeeded is whole.
    for (const [i, r] of runs.entries()) {
      if (r.code === 0) {
        expect((await fsp.stat(path.join(home, names[i] as string))).size).to.equal(1.5 * MiB);
      }
    }
    // Each process commits what its sessions changed: the store's usage comes to the disk's.
    await waitUntil('the usage in the store equals the disk', () => {
      const f = storeFigures(dataDir);
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
    await waitUntil('the store holds no usage', () => storeFigures(dataDir).usage.bytes === 0);

    // A slow upload through the third process takes a grant, then the process dies.
    const victim = nodes[2] as ServerProcess;
    await writeRandomFile(path.join(localDir, 'slow.bin'), 4 * MiB);
    const slow = sftpBatch(victim.port, CREDS, ['put slow.bin'], {
      cwd: localDir,
      extraArgs: ['-l', '2048'],
    });
    await waitUntil('the third process holds a grant', () => storeFigures(dataDir).granted > 0);
    victim.child.kill('SIGKILL');
    await victim.exited;
    await slow;
    const partial = (await quotaUsage(home)).bytes;
    expect(partial).to.be.below(4 * MiB);

    // The rest of the quota, the dead process's grant included, through the first process.
    const rest = QUOTA - partial;
    await writeRandomFile(path.join(localDir, 'rest.bin'), rest);
    await waitUntil('the dead grant has run out', () => storeFigures(dataDir).granted === 0);
    const run = await sftpBatch((nodes[0] as ServerProcess).port, CREDS, ['put rest.bin'], {
      cwd: localDir,
    });
    expect(run.code, run.stderr).to.equal(0);
    const disk = await quotaUsage(home);
    expect(disk.bytes).to.be.at.most(QUOTA);
    expect((await fsp.stat(path.join(home, 'rest.bin'))).size).to.equal(rest);
  });
});
