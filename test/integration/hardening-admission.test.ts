/**
 * Who gets in, and how many tries it takes: failures counted per address and
 * per account, bans that end the connections already open, a bounded number
 * of tries (keys included) per connection, limits on connections that have
 * not logged in, disable and delete racing a login, the size of what the log
 * keeps of client strings, and the per-user session limit with real clients.
 */
import { execFile, spawn } from 'node:child_process';
import { promises as fsp, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { Client, type AuthHandlerMiddleware, type ConnectConfig } from 'ssh2';
import { hashPassword, PasswordHasher } from '../../src/auth/passwords';
import { generateKeyPair } from '../../src/auth/keygen';
import { haveOpenSsh, makeClientKey, sshExec } from '../helpers/openssh';
import { closeProbe, logLines, probe, waitForLog, waitUntil, type Probe } from '../helpers/probe';
import { startTestServer, type TestServer } from '../helpers/server';
import { connectClient, endClient, openSftp, loginError } from '../helpers/ssh-client';

const ZHANGSAN = { user: 'zhangsan', password: '123' };
const ADMIN = { user: 'admin', password: 'password' };

async function addUser(server: TestServer, name: string, password: string): Promise<void> {
  await server.store.users.create({
    name,
    passwordHash: await hashPassword(password, server.config.argon2),
    quotaBytes: 0,
    quotaFiles: 0,
    isAdmin: false,
  });
}

/**
 * A connection whose client stops at authentication until `go` says what to
 * send; `asked` resolves once the server is waiting for it.
 */
interface HeldLogin {
  client: Client;
  asked: Promise<void>;
  closed: Promise<void>;
  go(method: { type: 'password'; password: string }): void;
}

function heldLogin(port: number, user: string, localAddress: string): HeldLogin {
  const client = new Client();
  let release: (m: { type: 'password'; password: string }) => void = () => undefined;
  const decided = new Promise<{ type: 'password'; password: string }>((r) => (release = r));
  let onAsked: () => void = () => undefined;
  const asked = new Promise<void>((r) => (onAsked = r));
  const closed = new Promise<void>((r) => client.once('close', () => r()));
  client.on('error', () => undefined);
  const authHandler: AuthHandlerMiddleware = (_left, _partial, next) => {
    onAsked();
    void decided.then((m) => next({ ...m, username: user }));
  };
  client.connect({
    host: '127.0.0.1',
    port,
    localAddress,
    username: user,
    readyTimeout: 20000,
    authHandler,
  });
  return { client, asked, closed, go: release };
}

function runPython(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string } | undefined> {
  return new Promise((resolve) => {
    execFile('/usr/bin/python3', args, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') resolve(undefined);
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end('pwd\n');
  });
}

/** OpenSSH `sftp -b -` at its default log level, password through SSH_ASKPASS, extra options first. */
async function sftpWith(
  port: number,
  user: string,
  password: string,
  options: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-admission-'));
  const askpass = path.join(dir, 'askpass.sh');
  writeFileSync(askpass, `#!/bin/sh\nprintf '%s\\n' '${password}'\n`, { mode: 0o700 });
  try {
    return await run(
      'sftp',
      [
        ...options,
        '-P',
        String(port),
        '-F',
        '/dev/null',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'ConnectTimeout=20',
        '-o',
        'BatchMode=no',
        '-o',
        'NumberOfPasswordPrompts=1',
        '-b',
        '-',
        `${user}@127.0.0.1`,
      ],
      {
        ...process.env,
        HOME: dir,
        SSH_ASKPASS: askpass,
        SSH_ASKPASS_REQUIRE: 'force',
        DISPLAY: process.env.DISPLAY ?? ':0',
        SSH_AUTH_SOCK: '',
      },
    );
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

describe('hardening: admission', function () {
  this.timeout(20000);

  describe('failures per address and per account (--ban-threshold 3 --account-lock-threshold 3)', function () {
    let server: TestServer;
    before(async function () {
      server = await startTestServer({
        flags: ['--ban-threshold', '3', '--account-lock-threshold', '3'],
      });
      await addUser(server, 'lisi', 'lisi-pw');
      await addUser(server, 'wangwu', 'wangwu-pw');
    });
    after(async function () {
      await server?.stop();
    });

    it("a login to one's own account does not reset the failures guessing another's", async function () {
      const from = '127.0.1.1';
      expect(await loginError(server.port, 'zhangsan', 'guess-1', from)).to.be.instanceOf(Error);
      expect(await loginError(server.port, 'zhangsan', 'guess-2', from)).to.be.instanceOf(Error);
      expect(await loginError(server.port, 'lisi', 'lisi-pw', from)).to.equal(undefined);
      expect(await loginError(server.port, 'zhangsan', 'guess-3', from)).to.be.instanceOf(Error);
      await waitForLog(server.dataDir, 'ip.banned', { ip: from });
      const p = await probe(server.port, { localAddress: from });
      expect(p.result).to.equal('dropped');
    });

    it('a mistyped password is forgiven by a login to the same account', async function () {
      const from = '127.0.1.2';
      expect(await loginError(server.port, 'lisi', 'typo-1', from)).to.be.instanceOf(Error);
      expect(await loginError(server.port, 'lisi', 'typo-2', from)).to.be.instanceOf(Error);
      expect(await loginError(server.port, 'lisi', 'lisi-pw', from)).to.equal(undefined);
      expect(await loginError(server.port, 'lisi', 'typo-3', from)).to.be.instanceOf(Error);
      expect(await loginError(server.port, 'lisi', 'lisi-pw', from)).to.equal(undefined);
    });

    it('locks an account guessed at from several addresses, except for addresses it logged in from', async function () {
      // wangwu's usual address.
      expect(await loginError(server.port, 'wangwu', 'wangwu-pw', '127.0.2.9')).to.equal(undefined);
      for (const from of ['127.0.2.1', '127.0.2.2', '127.0.2.3']) {
        expect(await loginError(server.port, 'wangwu', 'guess', from)).to.be.instanceOf(Error);
      }
      await waitForLog(server.dataDir, 'account.locked', { user: 'wangwu' });
      // The right password from a new address is refused while the lock lasts …
      const locked = await loginError(server.port, 'wangwu', 'wangwu-pw', '127.0.2.4');
      expect(locked?.message).to.equal('All configured authentication methods failed');
      await waitForLog(server.dataDir, 'login.failed', {
        ip: '127.0.2.4',
        reason: 'account locked',
      });
      // … but not from where the owner logged in before.
      expect(await loginError(server.port, 'wangwu', 'wangwu-pw', '127.0.2.9')).to.equal(undefined);
    });
  });

  describe('a ban and the connections already open (--ban-threshold 3)', function () {
    let server: TestServer;
    before(async function () {
      server = await startTestServer({ flags: ['--ban-threshold', '3'] });
    });
    after(async function () {
      await server?.stop();
    });

    it('ends every connection from the address that has not logged in', async function () {
      const from = '127.0.3.1';
      const held = [0, 1, 2].map(() => heldLogin(server.port, 'zhangsan', from));
      await Promise.all(held.map((h) => h.asked));
      for (const guess of ['g1', 'g2', 'g3']) {
        expect(await loginError(server.port, 'zhangsan', guess, from)).to.be.instanceOf(Error);
      }
      await waitForLog(server.dataDir, 'ip.banned', { ip: from });
      // They close without having sent anything more.
      await Promise.all(held.map((h) => h.closed));
      // A connection that would try now gets nowhere either.
      const late = heldLogin(server.port, 'zhangsan', from);
      late.go({ type: 'password', password: '123' });
      await late.closed;
      const ok = (await logLines(server.dataDir)).filter((l) => l.event === 'login.ok');
      expect(ok).to.deep.equal([]);
    });

    it('stops a connection whose password check was under way when the ban came', async function () {
      const from = '127.0.3.2';
      const verify = PasswordHasher.prototype.verify;
      let entered: () => void = () => undefined;
      const reached = new Promise<void>((r) => (entered = r));
      let release: () => void = () => undefined;
      const gate = new Promise<void>((r) => (release = r));
      PasswordHasher.prototype.verify = async function (hash: string, password: string) {
        const ok = await verify.call(this, hash, password);
        if (password === '123') {
          entered();
          await gate;
        }
        return ok;
      };
      try {
        const pending = heldLogin(server.port, 'zhangsan', from);
        await pending.asked;
        pending.go({ type: 'password', password: '123' });
        await reached;
        for (const guess of ['g1', 'g2', 'g3']) {
          expect(await loginError(server.port, 'zhangsan', guess, from)).to.be.instanceOf(Error);
        }
        release();
        await pending.closed;
      } finally {
        PasswordHasher.prototype.verify = verify;
      }
      const ok = (await logLines(server.dataDir)).filter((l) => l.event === 'login.ok');
      expect(ok).to.deep.equal([]);
    });
  });

  describe('tries per connection, keys included (--max-auth-tries 6)', function () {
    let server: TestServer;
    before(async function () {
      server = await startTestServer();
    });
    after(async function () {
      await server?.stop();
    });

    it('ends a connection after 6 keys that are not on file, without banning the address', async function () {
      const keys = Array.from({ length: 60 }, () => generateKeyPair('ed25519').private);
      let offered = 0;
      const client = new Client();
      const outcome = new Promise<string>((resolve) => {
        client.once('ready', () => resolve('logged in'));
        client.once('error', (err) => resolve(err.message));
        client.once('close', () => resolve('closed'));
      });
      const closed = new Promise<void>((r) => client.once('close', () => r()));
      const authHandler: AuthHandlerMiddleware = (_left, _partial, next) => {
        const key = keys[offered++];
        if (key === undefined) next(false as unknown as Parameters<typeof next>[0]);
        else next({ type: 'publickey', username: 'zhangsan', key });
      };
      const config: ConnectConfig = {
        host: '127.0.0.1',
        port: server.port,
        localAddress: '127.0.4.1',
        username: 'zhangsan',
        readyTimeout: 20000,
        authHandler,
      };
      client.connect(config);
      expect(await outcome).to.not.equal('logged in');
      await closed;
      expect(offered).to.be.within(6, 7);
      // Keys cannot be guessed: offering them is no reason to ban.
      expect(await loginError(server.port, 'zhangsan', '123', '127.0.4.1')).to.equal(undefined);
    });

    it('OpenSSH sftp offering 3 keys not on file still logs in with the password', async function () {
      if (!(await haveOpenSsh())) this.skip();
      const ids = [makeClientKey(), makeClientKey(), makeClientKey()];
      const res = await sftpWith(server.port, 'zhangsan', '123', [
        ...ids.flatMap((k) => ['-i', k.identity]),
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'PreferredAuthentications=publickey,password',
      ]);
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stdout).to.include('Remote working directory: /');
    });

    it('paramiko offering 2 keys not on file still logs in with the password', async function () {
      const ids = [makeClientKey(), makeClientKey()];
      const script = [
        'import sys, paramiko',
        'c = paramiko.SSHClient()',
        'c.set_missing_host_key_policy(paramiko.AutoAddPolicy())',
        "c.connect('127.0.0.1', port=int(sys.argv[1]), username='zhangsan', password='123',",
        '          key_filename=sys.argv[2:], look_for_keys=False, allow_agent=False, timeout=20)',
        "print(c.open_sftp().normalize('.'))",
        'c.close()',
      ].join('\n');
      const probePy = await runPython(['-c', 'import paramiko']);
      if (probePy === undefined || probePy.code !== 0) this.skip();
      const res = await runPython([
        '-c',
        script,
        String(server.port),
        ...ids.map((k) => k.identity),
      ]);
      expect(res?.code, res?.stderr).to.equal(0);
      expect(res?.stdout.trim()).to.equal('/');
    });
  });

  describe('connections that have not logged in (--max-unauthenticated-per-ip 3)', function () {
    let server: TestServer;
    before(async function () {
      server = await startTestServer({ flags: ['--max-unauthenticated-per-ip', '3'] });
    });
    after(async function () {
      await server?.stop();
    });

    it('one address cannot hold more than 3; other addresses still get in', async function () {
      const from = '127.0.5.1';
      const held: Probe[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          const p = await probe(server.port, { localAddress: from });
          held.push(p);
          expect(p.result).to.equal('accepted');
        }
        const fourth = await probe(server.port, { localAddress: from });
        expect(fourth.result).to.equal('dropped');
        await waitForLog(server.dataDir, 'connection.refused', {
          ip: from,
          reason: 'too many unauthenticated connections from this address',
        });
        expect(await loginError(server.port, 'zhangsan', '123', '127.0.5.2')).to.equal(undefined);
      } finally {
        await Promise.all(held.map(closeProbe));
      }
      // Logged-in connections do not count.
      const clients = [];
      for (let i = 0; i < 4; i++)
        clients.push(await connectClient(server.port, { ...ZHANGSAN, localAddress: from }));
      await Promise.all(clients.map(endClient));
    });
  });

  describe('random early drop (--unauthenticated-drop-start 2 --unauthenticated-drop-rate 100)', function () {
    let server: TestServer;
    before(async function () {
      server = await startTestServer({
        flags: ['--unauthenticated-drop-start', '2', '--unauthenticated-drop-rate', '100'],
      });
    });
    after(async function () {
      await server?.stop();
    });

    it('drops new connections once 2 have not logged in, from any address', async function () {
      const a = await probe(server.port, { localAddress: '127.0.6.1' });
      const b = await probe(server.port, { localAddress: '127.0.6.2' });
      try {
        expect([a.result, b.result]).to.deep.equal(['accepted', 'accepted']);
        const c = await probe(server.port, { localAddress: '127.0.6.3' });
        expect(c.result).to.equal('dropped');
        await waitForLog(server.dataDir, 'connection.refused', { ip: '127.0.6.3' });
      } finally {
        await closeProbe(a);
        await closeProbe(b);
      }
      await waitUntil('the two to be counted out', async () => {
        const p = await probe(server.port, { localAddress: '127.0.6.3' });
        await closeProbe(p);
        return p.result === 'accepted';
      });
    });
  });

  describe('login grace time (--login-grace-time 1)', function () {
    let server: TestServer;
    before(async function () {
      server = await startTestServer({ flags: ['--login-grace-time', '1'] });
    });
    after(async function () {
      await server?.stop();
    });

    it('ends a client that trickles bytes without logging in', async function () {
      const p = await probe(server.port, { localAddress: '127.0.7.1' });
      expect(p.result).to.equal('accepted');
      const line = 'SSH-2.0-trickle_1.0 ' + 'x'.repeat(200);
      let i = 0;
      const timer = setInterval(() => {
        if (p.socket.writable && i < line.length) p.socket.write(line[i++] ?? '');
      }, 50);
      try {
        await p.closed;
      } finally {
        clearInterval(timer);
      }
      await waitForLog(server.dataDir, 'login.timeout', { ip: '127.0.7.1' });
    });
  });

  describe('disable and delete during a login', function () {
    let server: TestServer;
    beforeEach(async function () {
      if (!(await haveOpenSsh())) this.skip();
      server = await startTestServer();
    });
    afterEach(async function () {
      await server?.stop();
    });

    /** Runs `command` at the console while zhangsan's password is being verified; the login's outcome. */
    async function raceLogin(command: string[]): Promise<string> {
      const verify = PasswordHasher.prototype.verify;
      let entered: () => void = () => undefined;
      const reached = new Promise<void>((r) => (entered = r));
      let release: () => void = () => undefined;
      const gate = new Promise<void>((r) => (release = r));
      PasswordHasher.prototype.verify = async function (hash: string, password: string) {
        const ok = await verify.call(this, hash, password);
        if (password === '123') {
          entered();
          await gate;
        }
        return ok;
      };
      try {
        const login = connectClient(server.port, ZHANGSAN).then(
          async (client) => {
            // What a session would do next: open SFTP (and with it the home).
            await openSftp(client).catch(() => undefined);
            await endClient(client);
            return 'logged in';
          },
          (err: Error) => err.message,
        );
        await reached;
        const admin = await sshExec(server.port, ADMIN, command);
        expect(admin.code, admin.stderr).to.equal(0);
        release();
        return await login;
      } finally {
        PasswordHasher.prototype.verify = verify;
      }
    }

    it('user disable while the password is checked: the login fails', async function () {
      const outcome = await raceLogin(['user', 'disable', 'zhangsan']);
      expect(outcome).to.equal('All configured authentication methods failed');
      expect(server.connections.countForUser('zhangsan')).to.equal(0);
    });

    it('user del --purge while the password is checked: the login fails and the home stays gone', async function () {
      const outcome = await raceLogin(['user', 'del', 'zhangsan', '--purge', '--yes']);
      expect(outcome).to.equal('All configured authentication methods failed');
      const home = await fsp.stat(server.home('zhangsan')).then(
        () => 'exists',
        (err: NodeJS.ErrnoException) => err.code,
      );
      expect(home).to.equal('ENOENT');
    });
  });

  describe('what the log keeps of client strings', function () {
    let server: TestServer;
    before(async function () {
      server = await startTestServer({ flags: ['--log-level', 'debug'] });
    });
    after(async function () {
      await server?.stop();
    });

    it('cuts a 5000-character user name and a long client version, saying so', async function () {
      const long = 'u'.repeat(5000);
      expect(await loginError(server.port, long, 'x')).to.be.instanceOf(Error);
      const failed = await waitForLog(server.dataDir, 'login.failed', { ip: '127.0.0.1' });
      expect(String(failed.user)).to.have.length.below(120);
      expect(String(failed.user)).to.match(/^u{64}…\[cut, 4936 more characters\]$/);

      const ident = 'v'.repeat(200);
      await endClient(await connectClient(server.port, { ...ZHANGSAN, ident }));
      let negotiated = '';
      await waitUntil('the connection.negotiated line of the long version', async () => {
        const line = (await logLines(server.dataDir)).find(
          (l) => l.event === 'connection.negotiated' && String(l.client).startsWith('SSH-2.0-vvv'),
        );
        negotiated = String(line?.client ?? '');
        return line !== undefined;
      });
      expect(negotiated).to.have.length.below(120);
      expect(negotiated).to.include('…[cut, ');
    });
  });

  describe('sessions per user (--max-sessions-per-user 1)', function () {
    let server: TestServer;
    before(async function () {
      server = await startTestServer({ flags: ['--max-sessions-per-user', '1'] });
    });
    after(async function () {
      await server?.stop();
    });

    it('turns a second login away during authentication, and OpenSSH sftp prints why', async function () {
      if (!(await haveOpenSsh())) this.skip();
      const first = await connectClient(server.port, ZHANGSAN);
      try {
        const res = await sftpWith(server.port, 'zhangsan', '123', [
          '-o',
          'PreferredAuthentications=password',
          '-o',
          'PubkeyAuthentication=no',
        ]);
        expect(res.code).to.not.equal(0);
        // The banner, and the DISCONNECT's description.
        expect(res.stderr).to.match(/^miniftp: too many sessions for this user \(limit 1\)$/m);
        expect(res.stderr).to.match(
          /Received disconnect from 127\.0\.0\.1 port \d+:12: miniftp: too many sessions for this user \(limit 1\)/,
        );
        // ssh2's client reports it as an error with the text.
        const err = await loginError(server.port, 'zhangsan', '123');
        expect(err?.message).to.equal('miniftp: too many sessions for this user (limit 1)');
      } finally {
        await endClient(first);
      }
      const lines = await logLines(server.dataDir);
      expect(lines.filter((l) => l.event === 'login.ok')).to.have.length(1);
      expect(lines.filter((l) => l.event === 'login.refused')).to.have.length(2);
      // Not a failed login: it counts toward no ban.
      expect(lines.filter((l) => l.event === 'login.failed')).to.deep.equal([]);
    });
  });

  describe('rclone at its defaults against the default limits', function () {
    let server: TestServer;
    let local: string;
    before(async function () {
      const have = await new Promise<boolean>((resolve) =>
        execFile('rclone', ['version'], (err) => resolve(!err)),
      );
      if (!have) this.skip();
      server = await startTestServer();
      local = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-rclone-'));
      // Enough files that rclone's 8 checkers and 4 transfers all open connections.
      for (let d = 0; d < 20; d++) {
        for (const root of [server.home('zhangsan'), local]) {
          await fsp.mkdir(path.join(root, `d${d}`), { recursive: true });
          for (let f = 0; f < 10; f++) {
            await fsp.writeFile(path.join(root, `d${d}`, `f${f}`), `file ${d}/${f}\n`);
          }
        }
      }
    });
    after(async function () {
      await server?.stop();
      if (local) await fsp.rm(local, { recursive: true, force: true });
    });

    it('rclone lsf and rclone check --download pass', async function () {
      this.timeout(60000);
      const obscured = await new Promise<string>((resolve, reject) =>
        execFile('rclone', ['obscure', '123'], (err, out) =>
          err ? reject(err) : resolve(out.trim()),
        ),
      );
      const env = {
        ...process.env,
        RCLONE_CONFIG: '/dev/null',
        RCLONE_CONFIG_T_TYPE: 'sftp',
        RCLONE_CONFIG_T_HOST: '127.0.0.1',
        RCLONE_CONFIG_T_PORT: String(server.port),
        RCLONE_CONFIG_T_USER: 'zhangsan',
        RCLONE_CONFIG_T_PASS: obscured,
        RCLONE_CONFIG_T_SHELL_TYPE: 'none',
      };
      const lsf = await run('rclone', ['lsf', '-R', '--files-only', 't:'], env);
      expect(lsf.code, lsf.stderr).to.equal(0);
      expect(lsf.stdout.trim().split('\n')).to.have.length(200);
      const check = await run('rclone', ['check', '--download', 't:', local], env);
      expect(check.code, check.stderr).to.equal(0);
      const refused = (await logLines(server.dataDir)).filter((l) => l.event === 'login.refused');
      expect(refused).to.deep.equal([]);
    });
  });
});
