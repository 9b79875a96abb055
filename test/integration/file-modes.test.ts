/**
 * File modes mean what the user set, also when the server starts as root:
 * `miniftp-server` then runs without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
 * (through setpriv), or as another user with --run-as, and the kernel refuses
 * what OpenSSH's own server would refuse. The server's own walks (usage
 * rescans, purges, hashing) get by with what users made unreadable.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { regularFilesUnder } from '../helpers/files';
import { haveOpenSsh, sftpBatch, sshExec, type ClientRun } from '../helpers/openssh';
import { logLines, waitForLog, waitUntil } from '../helpers/probe';
import { makeDataDir, testServerArgs } from '../helpers/server';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';

const REPO = path.resolve(__dirname, '..', '..', '..');
const SERVER_BIN = path.join(REPO, 'bin', 'miniftp-server.js');
const ZHANGSAN = { user: 'zhangsan', password: '123' };
const ADMIN = { user: 'admin', password: 'password' };
const KiB = 1024;
const MiB = 1024 * KiB;

/** A line of /proc/PID/status, e.g. "Uid" or "CapEff". */
function procStatus(pid: number, field: string): string {
  const m = new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(
    readFileSync(`/proc/${pid}/status`, 'utf8'),
  );
  return m?.[1]?.trim() ?? '';
}

function hasCap(pid: number, cap: number): boolean {
  return ((BigInt(`0x${procStatus(pid, 'CapEff')}`) >> BigInt(cap)) & 1n) === 1n;
}

/** Runs the server command to its end (it is expected to refuse to start). */
function runRefused(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SERVER_BIN, ...args], { cwd: REPO, env });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

async function stop(server: ServerProcess | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGTERM');
  const end = await server.exited;
  expect(end.code, end.stderr).to.equal(0);
}

function denied(run: ClientRun): void {
  expect(run.code, run.stdout).to.not.equal(0);
  expect(run.stderr).to.match(/Permission denied/);
}

describe('file modes', function () {
  this.timeout(60000);
  const root = process.getuid?.() === 0;
  let openssh = false;
  let localDir: string;

  before(async function () {
    if (!root) {
      console.log('      (not running as root, skipping: these tests start the server as root)');
      this.skip();
    }
    openssh = await haveOpenSsh();
    localDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-modes-local-'));
    await fsp.writeFile(path.join(localDir, 'one.txt'), 'first version\n');
    await fsp.writeFile(path.join(localDir, 'two.txt'), 'second version, longer\n');
  });

  after(async function () {
    if (localDir) await fsp.rm(localDir, { recursive: true, force: true });
  });

  describe('started as root', function () {
    let dataDir: string;
    let server: ServerProcess | undefined;
    let home: string;
    const sftp = (commands: string[], creds = ZHANGSAN): Promise<ClientRun> =>
      sftpBatch((server as ServerProcess).port, creds, commands, { cwd: localDir });

    before(async function () {
      if (!openssh) {
        console.log('      (OpenSSH sftp is not installed, skipping)');
        this.skip();
      }
      dataDir = await makeDataDir();
      home = path.join(dataDir, 'docs', 'zhangsan');
      server = await startServerProcess(dataDir);
    });

    after(async function () {
      await stop(server);
      // The tests run as root with every capability: closed directories are no obstacle here.
      if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
    });

    it('serves from a process without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH', function () {
      const s = server as ServerProcess;
      expect(s.pid, 'the server runs in a process of its own').to.not.equal(s.child.pid);
      expect(procStatus(s.pid, 'Uid').split(/\s+/)[0]).to.equal('0');
      expect(hasCap(s.pid, 1), 'CAP_DAC_OVERRIDE').to.equal(false);
      expect(hasCap(s.pid, 2), 'CAP_DAC_READ_SEARCH').to.equal(false);
      // What a port below 1024 needs is kept.
      expect(hasCap(s.pid, 10), 'CAP_NET_BIND_SERVICE').to.equal(true);
    });

    it('refuses a put over a file after chmod 400, as OpenSSH does; chmod 600 allows it again', async function () {
      let run = await sftp(['put one.txt f', 'chmod 400 f']);
      expect(run.code, run.stderr).to.equal(0);
      expect((await fsp.stat(path.join(home, 'f'))).mode & 0o777).to.equal(0o400);

      denied(await sftp(['put two.txt f']));
      expect(await fsp.readFile(path.join(home, 'f'), 'utf8')).to.equal('first version\n');
      // Reading is still the owner's right.
      run = await sftp(['get f got.txt']);
      expect(run.code, run.stderr).to.equal(0);
      expect(await fsp.readFile(path.join(localDir, 'got.txt'), 'utf8')).to.equal(
        'first version\n',
      );

      run = await sftp(['chmod 600 f', 'put two.txt f']);
      expect(run.code, run.stderr).to.equal(0);
      expect(await fsp.readFile(path.join(home, 'f'), 'utf8')).to.equal('second version, longer\n');
    });

    it('refuses ls, put and rm in a directory after chmod 000; chmod 700 restores them', async function () {
      let run = await sftp(['mkdir d', 'put one.txt d/x', 'chmod 000 d']);
      expect(run.code, run.stderr).to.equal(0);

      denied(await sftp(['ls d']));
      denied(await sftp(['put two.txt d/y']));
      denied(await sftp(['rm d/x']));
      expect(await fsp.readdir(path.join(home, 'd'))).to.deep.equal(['x']);

      run = await sftp(['chmod 700 d', 'put two.txt d/y', 'ls -1 d']);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout)
        .to.match(/d\/x\s/)
        .and.to.match(/d\/y\s/);
      expect((await fsp.readdir(path.join(home, 'd'))).sort()).to.deep.equal(['x', 'y']);
    });

    it('a large upload closed with chmod 000 right after: refused clearly, the server keeps serving', async function () {
      const data = Buffer.alloc(3 * MiB, 7);
      await fsp.writeFile(path.join(localDir, 'big.bin'), data);
      // Hashed in the background while it arrives; the mode changes as the digest is finished.
      let run = await sftp(['put big.bin big.bin', 'chmod 000 big.bin']);
      expect(run.code, run.stderr).to.equal(0);
      const port = (server as ServerProcess).port;

      const refused = await sshExec(port, ZHANGSAN, ['md5sum', 'big.bin']);
      expect(refused.code).to.not.equal(0);
      expect(refused.stderr).to.match(/permission denied/i);
      run = await sftp(['ls -1']);
      expect(run.code, run.stderr).to.equal(0);

      run = await sftp(['chmod 600 big.bin']);
      expect(run.code, run.stderr).to.equal(0);
      const md5 = await sshExec(port, ZHANGSAN, ['md5sum', 'big.bin']);
      expect(md5.code, md5.stderr).to.equal(0);
      expect(md5.stdout.split(/\s+/)[0]).to.equal(createHash('md5').update(data).digest('hex'));
    });

    it('keeps the usage it had when a restart cannot read a chmod 000 directory, and says so once', async function () {
      let run = await sftp(['mkdir hidden', 'put two.txt hidden/z', 'chmod 000 hidden']);
      expect(run.code, run.stderr).to.equal(0);
      const before = await sshExec(server?.port ?? 0, ADMIN, ['usage', 'zhangsan', '--json']);
      const had = (JSON.parse(before.stdout) as Array<{ usedBytes: number; usedFiles: number }>)[0];
      const hidden = await regularFilesUnder(path.join(home, 'hidden'));
      expect(hidden.files).to.equal(1);

      await stop(server);
      server = undefined;
      const startedAt = new Date();
      server = await startServerProcess(dataDir);
      const line = await waitForLog(dataDir, 'quota.rescan_partial', { user: 'zhangsan' });
      expect(line).to.include({ unreadable: 1, first: '/hidden' });
      const lines = (await logLines(dataDir)).filter(
        (l) => l.event === 'quota.rescan_partial' && new Date(String(l.time)) >= startedAt,
      );
      expect(lines).to.have.length(1);

      let row: { usedBytes: number; usedFiles: number; scannedAt: string | null } | undefined;
      await waitUntil('the start-up rescan', async () => {
        const usage = await sshExec(server?.port ?? 0, ADMIN, ['usage', 'zhangsan', '--json']);
        expect(usage.code, usage.stderr).to.equal(0);
        row = (JSON.parse(usage.stdout) as Array<typeof row>)[0];
        return row?.scannedAt != null && new Date(row.scannedAt) >= startedAt;
      });
      // Hiding files from the server must not take them out of the quota.
      expect(row).to.include({ usedBytes: had?.usedBytes, usedFiles: had?.usedFiles });
      run = await sftp(['ls -1']);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.include('hidden');
    });

    it('purges a home with a chmod 000 directory in it', async function () {
      const port = (server as ServerProcess).port;
      const add = await sshExec(
        port,
        ADMIN,
        ['user', 'add', 'carol', '--password-stdin'],
        'carol-pass-1\n',
      );
      expect(add.code, add.stderr).to.equal(0);
      const carol = { user: 'carol', password: 'carol-pass-1' };
      const run = await sftp(['mkdir shut', 'put one.txt shut/a', 'chmod 000 shut'], carol);
      expect(run.code, run.stderr).to.equal(0);
      const del = await sshExec(port, ADMIN, ['user', 'del', 'carol', '--purge', '--yes']);
      expect(del.code, del.stderr).to.equal(0);
      expect(await fsp.readdir(path.join(dataDir, 'docs'))).to.not.include('carol');
    });
  });

  it('refuses to start as root when setpriv cannot be found, naming --run-as', async function () {
    const dataDir = await makeDataDir();
    try {
      const { code, stderr } = await runRefused(testServerArgs(dataDir), {
        ...process.env,
        PATH: '/nonexistent',
      });
      expect(code, stderr).to.equal(2);
      const lines = stderr.trim().split('\n');
      expect(lines, stderr).to.have.length(1);
      expect(lines[0]).to.include('setpriv').and.to.include('--run-as USER');
    } finally {
      await fsp.rm(dataDir, { recursive: true, force: true });
    }
  });

  it('passes SIGINT to the server once; a signal sent to both processes stops it once, gracefully', async function () {
    const dataDir = await makeDataDir();
    try {
      let server = await startServerProcess(dataDir);
      server.child.kill('SIGINT');
      let end = await server.exited;
      expect(end.code, end.stderr).to.equal(0);
      // As systemd stops a service: every process of the group gets the signal.
      server = await startServerProcess(dataDir);
      expect(server.pid).to.not.equal(server.child.pid);
      process.kill(server.pid, 'SIGTERM');
      server.child.kill('SIGTERM');
      end = await server.exited;
      expect(end.code, end.stderr).to.equal(0);
      const signals = (await logLines(dataDir)).filter((l) => l.event === 'server.signal');
      expect(signals.map((l) => l.signal)).to.deep.equal(['SIGINT', 'SIGTERM']);
      expect((await logLines(dataDir)).filter((l) => l.event === 'server.stopped')).to.have.length(
        2,
      );
    } finally {
      await fsp.rm(dataDir, { recursive: true, force: true });
    }
  });

  describe('--run-as', function () {
    const name = `mftp${process.pid % 100000}`;
    let uid: number;
    let base: string;

    before(async function () {
      try {
        execFileSync(
          'useradd',
          ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name],
          {
            stdio: 'pipe',
          },
        );
      } catch (err) {
        const why = (err as { stderr?: Buffer }).stderr?.toString().trim() || String(err);
        console.log(`      (cannot create a user here, skipping: ${why})`);
        this.skip();
      }
      uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      // The user must be able to reach the data directory inside.
      base = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-runas-'));
      await fsp.chmod(base, 0o711);
    });

    after(async function () {
      if (base) await fsp.rm(base, { recursive: true, force: true });
      try {
        execFileSync('userdel', [name], { stdio: 'pipe' });
      } catch {
        // Not created.
      }
    });

    it('runs as the user once listening; what it creates belongs to the user, and modes hold', async function () {
      const dataDir = path.join(base, 'data');
      const server = await startServerProcess(dataDir, ['--run-as', name]);
      try {
        expect(server.pid, 'no second process is needed').to.equal(server.child.pid);
        expect(procStatus(server.pid, 'Uid').split(/\s+/)).to.deep.equal(
          Array(4).fill(String(uid)),
        );
        expect(procStatus(server.pid, 'CapEff')).to.match(/^0+$/);
        // Every thread, those started before the switch included (libuv's pool, V8's).
        for (const tid of await fsp.readdir(`/proc/${server.pid}/task`)) {
          const status = readFileSync(`/proc/${server.pid}/task/${tid}/status`, 'utf8');
          expect(/^Uid:\s*(\d+)/m.exec(status)?.[1], `thread ${tid}`).to.equal(String(uid));
        }
        for (const entry of ['.', 'miniftp.db', 'docs', 'docs/zhangsan', 'log']) {
          expect((await fsp.stat(path.join(dataDir, entry))).uid, entry).to.equal(uid);
        }
        if (openssh) {
          let run = await sftpBatch(server.port, ZHANGSAN, ['put one.txt f', 'chmod 400 f'], {
            cwd: localDir,
          });
          expect(run.code, run.stderr).to.equal(0);
          expect((await fsp.stat(path.join(dataDir, 'docs', 'zhangsan', 'f'))).uid).to.equal(uid);
          run = await sftpBatch(server.port, ZHANGSAN, ['put two.txt f'], { cwd: localDir });
          denied(run);
        }
        const listening = await waitForLog(dataDir, 'server.listening');
        expect(listening).to.include({ user: name, uid });
      } finally {
        await stop(server);
      }
    });

    it('refuses an unknown user, a data directory owned by someone else, and root', async function () {
      const dataDir = await makeDataDir();
      try {
        const refused = async (who: string): Promise<string> => {
          const { code, stderr } = await runRefused(testServerArgs(dataDir, ['--run-as', who]));
          expect(code, stderr).to.equal(2);
          const lines = stderr.trim().split('\n');
          expect(lines, stderr).to.have.length(1);
          return lines[0] as string;
        };
        expect(await refused('no-such-user-4711')).to.equal(
          "miniftp-server: runAs: there is no user 'no-such-user-4711' on this system",
        );
        expect(await refused(name)).to.equal(
          `miniftp-server: cannot use dataDir '${dataDir}' as user ${name}: it belongs to uid 0; ` +
            `give it to the user first (chown -R ${name}: '${dataDir}')`,
        );
        expect(await refused('root')).to.include("runAs: 'root' is uid 0");
        // Nothing was created in the refused directory.
        expect(await fsp.readdir(dataDir)).to.deep.equal([]);
      } finally {
        await fsp.rm(dataDir, { recursive: true, force: true });
      }
    });
  });
});
