/**
 * The server as a whole: logins, malformed SFTP packets, channels other than
 * SFTP, and the `miniftp-server` command itself (start, stop, bad flags, host
 * keys, the day's log).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { Client } from 'ssh2';
import { PacketWriter } from '../../src/sftp/codec';
import { PacketType, Status } from '../../src/sftp/constants';
import { GC_FLAG, MALLOC_THRESHOLD } from '../../src/main/runtime';
import { sshExec } from '../helpers/openssh';
import { RawSftp, namesOf, statusOf } from '../helpers/raw-sftp';
import { startTestServer, type TestServer } from '../helpers/server';
import { connectClient, endClient, openSftp } from '../helpers/ssh-client';

const REPO = path.resolve(__dirname, '..', '..', '..');
const SERVER_BIN = path.join(REPO, 'bin', 'miniftp-server.js');

/** Polls `check` until it returns true (the log is written through a stream). */
async function waitFor(what: string, check: () => Promise<boolean>, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Every JSON line of every daily log file under `<dataDir>/log`. */
async function logLines(dataDir: string): Promise<Array<Record<string, unknown>>> {
  const dir = path.join(dataDir, 'log');
  const files = await fsp.readdir(dir).catch(() => [] as string[]);
  const lines: Array<Record<string, unknown>> = [];
  for (const f of files.filter((n) => /^\d{4}-\d\d-\d\d\.log$/.test(n)).sort()) {
    const text = await fsp.readFile(path.join(dir, f), 'utf8');
    for (const line of text.split('\n')) {
      // The last line may be half written while the server is running.
      if (line.trim() === '') continue;
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* incomplete */
      }
    }
  }
  return lines;
}

async function connectFails(port: number, user: string, password: string): Promise<Error> {
  let caught: unknown;
  try {
    const c = await connectClient(port, { user, password });
    await endClient(c);
  } catch (err) {
    caught = err;
  }
  expect(caught, 'the login should have failed').to.be.instanceOf(Error);
  return caught as Error;
}

describe('server basics', function () {
  describe('logins and channels', function () {
    let server: TestServer;

    before(async function () {
      server = await startTestServer();
    });

    after(async function () {
      await server?.stop();
    });

    it('refuses a wrong password, then accepts the right one', async function () {
      const err = await connectFails(server.port, 'zhangsan', 'not-the-password');
      expect(err.message).to.match(/authentication methods failed/);
      await connectFails(server.port, 'nobody-here', '123');
      const c = await connectClient(server.port, { user: 'zhangsan', password: '123' });
      const sftp = await openSftp(c);
      const cwd = await new Promise<string>((resolve, reject) =>
        sftp.realpath('.', (e, p) => (e ? reject(e) : resolve(p))),
      );
      expect(cwd).to.equal('/');
      sftp.end();
      await endClient(c);
      await waitFor('the login lines', async () => {
        const events = (await logLines(server.dataDir)).map((l) => l.event);
        return (
          events.includes('login.ok') && events.filter((e) => e === 'login.failed').length >= 2
        );
      });
      const text = JSON.stringify(await logLines(server.dataDir));
      expect(text).to.not.include('not-the-password');
    });

    it('refuses shell and exec to an ordinary user with one line and status 1', async function () {
      const creds = { user: 'zhangsan', password: '123' };
      const exec = await sshExec(server.port, creds, ['ls', '-la', '/']);
      expect(exec.code).to.equal(1);
      expect(exec.stderr.trim()).to.equal('this account is for file transfer only');
      expect(exec.stdout).to.equal('');
      const shell = await sshExec(server.port, creds, []);
      expect(shell.code).to.equal(1);
      expect(shell.stderr).to.include('this account is for file transfer only');
    });

    it('refuses the sftp subsystem to the admin', async function () {
      const c = await connectClient(server.port, { user: 'admin', password: 'password' });
      try {
        let caught: unknown;
        await openSftp(c).catch((err: unknown) => (caught = err));
        expect(caught).to.be.instanceOf(Error);
      } finally {
        await endClient(c);
      }
    });

    describe('malformed packets', function () {
      let client: Client;

      before(async function () {
        client = await connectClient(server.port, { user: 'zhangsan', password: '123' });
      });

      after(async function () {
        if (client) await endClient(client);
      });

      const badPackets = (): Array<[string, Buffer]> => {
        const shortLength = Buffer.from([0, 0, 0, 2, PacketType.STAT, 0]);
        // OPEN whose path claims 1000 bytes but the packet ends after 3.
        const truncated = new PacketWriter(PacketType.OPEN)
          .u32(7)
          .u32(1000)
          .raw(Buffer.from('abc'))
          .finish();
        const huge = Buffer.alloc(9);
        huge.writeUInt32BE(10 * 1024 * 1024, 0);
        huge[4] = PacketType.WRITE;
        return [
          ['a length below the minimum', shortLength],
          ['a truncated string', truncated],
          ['a packet over the maximum size', huge],
        ];
      };

      for (const [name, packet] of badPackets()) {
        it(`closes the channel on ${name}, logs it, and serves a fresh session`, async function () {
          const before = (await logLines(server.dataDir)).filter(
            (l) => l.event === 'sftp.bad_packet',
          ).length;
          const raw = await RawSftp.open(client);
          // A good request first: the session is healthy until the bad packet.
          expect(
            namesOf(await raw.request(PacketType.REALPATH, (w) => w.string('.')))[0]?.filename,
          ).to.equal('/');
          const answered = name === 'a truncated string' ? raw.waitForId(7) : undefined;
          raw.sendRaw(packet);
          if (answered) expect(statusOf(await answered).code).to.equal(Status.BAD_MESSAGE);
          await raw.closed;
          await waitFor('the bad_packet log line', async () => {
            const lines = (await logLines(server.dataDir)).filter(
              (l) => l.event === 'sftp.bad_packet',
            );
            return lines.length > before;
          });
          const fresh = await RawSftp.open(client);
          expect(
            namesOf(await fresh.request(PacketType.REALPATH, (w) => w.string('/a/..')))[0]
              ?.filename,
          ).to.equal('/');
          await fresh.end();
        });
      }
    });
  });

  describe('the miniftp-server command', function () {
    let dataDir: string;
    let keysDir: string;
    const running = new Set<ChildProcessWithoutNullStreams>();

    before(async function () {
      dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-cli-data-'));
      keysDir = path.join(
        await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-cli-keys-')),
        'keys',
      );
    });

    after(async function () {
      for (const child of running) child.kill('SIGKILL');
      await fsp.rm(dataDir, { recursive: true, force: true });
      await fsp.rm(path.dirname(keysDir), { recursive: true, force: true });
    });

    interface Started {
      child: ChildProcessWithoutNullStreams;
      /** Resolves with the port from the "listening on" line. */
      listening: Promise<number>;
      exited: Promise<{ code: number | null; stderr: string }>;
    }

    /** `direct`: run the script itself (its shebang), as an installed `miniftp-server` runs. */
    function startCli(args: string[], options: { direct?: boolean } = {}): Started {
      const env: NodeJS.ProcessEnv = { ...process.env, MINIFTP_LOG_STDOUT: 'false' };
      delete env[MALLOC_THRESHOLD.name];
      const child = options.direct
        ? spawn(SERVER_BIN, args, { cwd: REPO, env })
        : spawn(process.execPath, [SERVER_BIN, ...args], { cwd: REPO, env });
      running.add(child);
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
        child.on('close', (code) => {
          running.delete(child);
          resolve({ code, stderr });
        }),
      );
      const listening = new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          const m = /^listening on 127\.0\.0\.1:(\d+)$/m.exec(stdout);
          if (m) resolve(Number(m[1]));
        });
        void exited.then(({ code }) => reject(new Error(`server exited (${code}): ${stderr}`)));
      });
      return { child, exited, listening };
    }

    /** The SHA-256 of the host key the server presents. */
    function hostKeyOf(port: number, login: { user: string; password: string }): Promise<string> {
      return new Promise((resolve, reject) => {
        let seen = '';
        const c = new Client();
        c.on('ready', () => c.end());
        c.on('close', () => (seen ? resolve(seen) : reject(new Error('no host key seen'))));
        c.on('error', reject);
        c.connect({
          host: '127.0.0.1',
          port,
          username: login.user,
          password: login.password,
          tryKeyboard: false,
          hostVerifier: (key: Buffer) => {
            seen = createHash('sha256').update(key).digest('base64');
            return true;
          },
        });
      });
    }

    it('starts, logs, serves, and exits 0 on SIGTERM; keys are made once, 0600', async function () {
      const args = ['--port', '0', '--data-dir', dataDir, '--keys-dir', keysDir];
      const first = startCli(args);
      const port = await first.listening;
      await connectFails(port, 'zhangsan', 'wrong-secret-4711');
      const fingerprint = await hostKeyOf(port, { user: 'zhangsan', password: '123' });
      first.child.kill('SIGTERM');
      const end = await first.exited;
      expect(end.code, end.stderr).to.equal(0);

      for (const f of ['ssh_host_ed25519_key', 'ssh_host_rsa_key']) {
        expect((await fsp.stat(path.join(keysDir, f))).mode & 0o777, f).to.equal(0o600);
      }
      const lines = await logLines(dataDir);
      const ok = lines.filter((l) => l.event === 'login.ok');
      const failed = lines.filter((l) => l.event === 'login.failed');
      expect(ok.map((l) => l.user)).to.include('zhangsan');
      expect(failed.map((l) => l.user)).to.include('zhangsan');
      const raw = JSON.stringify(lines);
      expect(raw).to.not.include('wrong-secret-4711');
      // No field anywhere holds the real password either.
      for (const l of lines) for (const v of Object.values(l)) expect(v).to.not.equal('123');

      const second = startCli(args);
      const port2 = await second.listening;
      expect(await hostKeyOf(port2, { user: 'zhangsan', password: '123' })).to.equal(fingerprint);
      second.child.kill('SIGTERM');
      expect((await second.exited).code).to.equal(0);
    });

    it('run as a command it gets what npm start gives; under plain node it logs what is missing', async function () {
      const logsOf = async (options: { direct?: boolean }): Promise<Record<string, unknown>[]> => {
        const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-cli-runtime-'));
        try {
          const run = startCli(['--port', '0', '--data-dir', dir, '--keys-dir', keysDir], options);
          await run.listening;
          run.child.kill('SIGTERM');
          const end = await run.exited;
          expect(end.code, end.stderr).to.equal(0);
          return (await logLines(dir)).filter((l) => l.event === 'server.runtime');
        } finally {
          await fsp.rm(dir, { recursive: true, force: true });
        }
      };
      expect(await logsOf({ direct: true })).to.deep.equal([]);
      const plain = await logsOf({});
      expect(plain).to.have.length(1);
      const hint = String(plain[0]?.hint);
      expect(hint).to.include(`${MALLOC_THRESHOLD.name}=${MALLOC_THRESHOLD.value}`);
      expect(hint).to.include(GC_FLAG);
    });

    it('exits 2 with one line naming the flag on --port 70000', async function () {
      const run = startCli(['--port', '70000', '--data-dir', dataDir, '--keys-dir', keysDir]);
      run.listening.catch(() => undefined);
      const { code, stderr } = await run.exited;
      expect(code).to.equal(2);
      const lines = stderr.trim().split('\n');
      expect(lines, stderr).to.have.length(1);
      expect(lines[0]).to.include('port').and.to.include('70000');
    });

    it('exits 2 with one line naming the setting when a directory, the port or the data is taken', async function () {
      const refused = async (args: string[]): Promise<string> => {
        const run = startCli(['--keys-dir', keysDir, ...args]);
        run.listening.catch(() => undefined);
        const { code, stderr } = await run.exited;
        expect(code, stderr).to.equal(2);
        const lines = stderr.trim().split('\n');
        expect(lines, stderr).to.have.length(1);
        return lines[0] as string;
      };
      const file = path.join(dataDir, 'a-file');
      await fsp.writeFile(file, 'x');
      expect(await refused(['--port', '0', '--data-dir', file])).to.equal(
        `miniftp-server: cannot use dataDir '${file}': a file of that name is in the way`,
      );
      expect(await refused(['--port', '0', '--data-dir', path.join(file, 'sub')])).to.include(
        'part of the path is a file, not a directory',
      );
      // Node's own recursive mkdir never returns here.
      expect(await refused(['--port', '0', '--data-dir', '/proc/miniftp-test'])).to.equal(
        "miniftp-server: cannot use dataDir '/proc/miniftp-test': a directory cannot be created there",
      );

      // A second server on a data directory in use, or on a port in use.
      const first = startCli(['--port', '0', '--data-dir', dataDir, '--keys-dir', keysDir]);
      const port = await first.listening;
      const other = path.join(dataDir, 'other');
      expect(await refused(['--port', String(port), '--data-dir', other])).to.equal(
        `miniftp-server: cannot listen on 127.0.0.1:${port}: port ${port} is already in use (port)`,
      );
      expect(await refused(['--port', '0', '--data-dir', dataDir])).to.equal(
        `miniftp-server: cannot use dataDir '${dataDir}': in use by another MiniFTP server (its database is locked)`,
      );
      first.child.kill('SIGTERM');
      expect((await first.exited).code).to.equal(0);
    });
  });
});
