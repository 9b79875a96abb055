/**
 * MiniFTP behind a real HAProxy (`mode tcp`, `send-proxy-v2` or `send-proxy`,
 * `check`): the client's address from the PROXY header is the one the console's
 * `sessions`, the log and the bans see; health checks leave no trace (the
 * header's own cases, straight from sockets: proxy-protocol.test.ts).
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { sha256File, writeRandomFile } from '../helpers/files';
import { haveHaproxy, startHaproxy, type Haproxy } from '../helpers/haproxy';
import { haveOpenSsh, sftpBatch, sshExec, type ClientRun } from '../helpers/openssh';
import { logLines, waitForLog, waitUntil } from '../helpers/probe';
import { startTestServer, type TestServer } from '../helpers/server';
import { V2_SIGNATURE } from '../../src/ssh/proxy-header';

const USER = { user: 'zhangsan', password: '123' };
const ADMIN = { user: 'admin', password: 'password' };
const from = (ip: string): string[] => ['-o', `BindAddress=${ip}`];

/** A PROXY v2 LOCAL header, as HAProxy's health checks send it. */
const V2_LOCAL = Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);

/** A health check: connect from 127.0.0.1, send `bytes` (or nothing), and close. */
function check(port: number, bytes: Buffer | undefined): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      if (bytes) s.write(bytes);
      s.end();
    });
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.on('close', () => resolve());
  });
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<ClientRun> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface SessionRow {
  id: string;
  user: string | null;
  ip: string;
  port: number;
  current: boolean;
}

function useBalancedServer(
  proxy: 'send-proxy-v2' | 'send-proxy',
  flags: string[] = [],
): { server: () => TestServer; haproxy: () => Haproxy; local: () => string } {
  let server: TestServer | undefined;
  let haproxy: Haproxy | undefined;
  let local = '';
  before(async function () {
    if (!haveHaproxy() || !(await haveOpenSsh())) {
      // CI installs both (.ci/run); a developer machine may lack them.
      console.log('      (haproxy or OpenSSH is not installed here, skipping)');
      this.skip();
    }
    server = await startTestServer({
      flags: ['--proxy-protocol', '--trusted-proxies', '127.0.0.1', ...flags],
    });
    haproxy = await startHaproxy({ servers: [{ name: 's1', port: server.port }], proxy });
    local = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-haproxy-local-'));
    await waitUntil('HAProxy sees s1 up', async () => (await haproxy?.status())?.s1 === 'UP');
  });
  after(async function () {
    await haproxy?.stop();
    await server?.stop();
    if (local) await fsp.rm(local, { recursive: true, force: true });
  });
  return {
    server: () => server as TestServer,
    haproxy: () => haproxy as Haproxy,
    local: () => local,
  };
}

describe('behind HAProxy with PROXY protocol v2', function () {
  this.timeout(60000);
  const ctx = useBalancedServer('send-proxy-v2', [
    '--ban-threshold',
    '3',
    '--account-lock-threshold',
    '0',
  ]);

  it("OpenSSH's sftp from 127.0.0.2: the upload lands, and the log and `sessions` show 127.0.0.2", async function () {
    const file = path.join(ctx.local(), 'up.bin');
    await writeRandomFile(file, 300 * 1024);
    const up = await sftpBatch(ctx.haproxy().port, USER, ['put up.bin'], {
      cwd: ctx.local(),
      extraArgs: from('127.0.0.2'),
    });
    expect(up.code, up.stderr).to.equal(0);
    expect(await sha256File(path.join(ctx.server().home('zhangsan'), 'up.bin'))).to.equal(
      await sha256File(file),
    );
    await waitForLog(ctx.server().dataDir, 'login.ok', { user: 'zhangsan', ip: '127.0.0.2' });

    const listed = await sshExec(
      ctx.haproxy().port,
      ADMIN,
      ['sessions', '--json'],
      '',
      from('127.0.0.2'),
    );
    expect(listed.code, listed.stderr).to.equal(0);
    const rows = JSON.parse(listed.stdout) as SessionRow[];
    const me = rows.find((r) => r.current);
    expect(me, listed.stdout).to.include({ user: 'admin', ip: '127.0.0.2' });
    // HAProxy's own address (its checks, its side of each connection) is nowhere.
    expect(
      rows.filter((r) => r.ip === '127.0.0.1'),
      listed.stdout,
    ).to.deep.equal([]);
    const plain = await sshExec(ctx.haproxy().port, ADMIN, ['sessions'], '', from('127.0.0.2'));
    expect(plain.stdout).to.match(/127\.0\.0\.2:\d+/);
  });

  it('rclone from 127.0.0.3 (--bind): logged in from 127.0.0.3', async function () {
    const obscured = await run('rclone', ['obscure', USER.password], {});
    expect(obscured.code, obscured.stderr).to.equal(0);
    const conf = path.join(ctx.local(), 'rclone.conf');
    await fsp.writeFile(
      conf,
      [
        '[lb]',
        'type = sftp',
        'host = 127.0.0.1',
        `port = ${ctx.haproxy().port}`,
        `user = ${USER.user}`,
        `pass = ${obscured.stdout.trim()}`,
        '',
      ].join('\n'),
    );
    const file = path.join(ctx.local(), 'rc.bin');
    await writeRandomFile(file, 200 * 1024);
    const copied = await run('rclone', ['copyto', file, 'lb:rc/rc.bin', '--bind', '127.0.0.3'], {
      RCLONE_CONFIG: conf,
      HOME: ctx.local(),
    });
    expect(copied.code, copied.stderr).to.equal(0);
    expect(await sha256File(path.join(ctx.server().home('zhangsan'), 'rc', 'rc.bin'))).to.equal(
      await sha256File(file),
    );
    await waitForLog(ctx.server().dataDir, 'login.ok', { user: 'zhangsan', ip: '127.0.0.3' });
  });

  it('1200 health checks (PROXY v2 LOCAL and bare TCP) leave no ban, no log line and the node up', async function () {
    const { dataDir, port } = ctx.server();
    const before = (await logLines(dataDir)).length;
    // An hour of checks at HAProxy's default 2 s interval, two at a time.
    for (let i = 0; i < 600; i++) {
      await Promise.all([check(port, V2_LOCAL), check(port, undefined)]);
    }
    // A login after them: once its line is written, any line of theirs would be too.
    const marker = await sshExec(
      ctx.haproxy().port,
      USER,
      ['md5sum', 'up.bin'],
      '',
      from('127.0.0.3'),
    );
    expect(marker.code, marker.stderr).to.equal(0);
    await waitForLog(dataDir, 'session.closed', { user: 'zhangsan', ip: '127.0.0.3' });
    const after = (await logLines(dataDir)).slice(before);
    const noise = after.filter((l) => l.ip !== '127.0.0.3');
    expect(noise, JSON.stringify(noise.slice(0, 3))).to.deep.equal([]);
    expect((await ctx.haproxy().status()).s1).to.equal('UP');
  });

  it("a brute force through the balancer bans the client's address, not the balancer's", async function () {
    const { dataDir } = ctx.server();
    const wrong = { user: 'zhangsan', password: 'wrong' };
    for (let i = 0; i < 3; i++) {
      const r = await sftpBatch(ctx.haproxy().port, wrong, ['ls'], {
        extraArgs: from('127.0.0.2'),
      });
      expect(r.code).to.not.equal(0);
    }
    await waitForLog(dataDir, 'ip.banned', { ip: '127.0.0.2' });
    const banned = await sftpBatch(ctx.haproxy().port, USER, ['ls'], {
      extraArgs: from('127.0.0.2'),
    });
    expect(banned.code).to.not.equal(0);
    await waitForLog(dataDir, 'connection.refused', {
      ip: '127.0.0.2',
      reason: 'address is banned after failed logins',
    });
    // Another client through the same balancer still logs in, and the balancer still checks.
    const other = await sftpBatch(ctx.haproxy().port, USER, ['ls'], {
      extraArgs: from('127.0.0.3'),
    });
    expect(other.code, other.stderr).to.equal(0);
    const bans = (await logLines(dataDir)).filter((l) => l.event === 'ip.banned');
    expect(bans.map((l) => l.ip)).to.deep.equal(['127.0.0.2']);
    expect((await ctx.haproxy().status()).s1).to.equal('UP');
  });
});

describe('behind HAProxy with PROXY protocol v1 (send-proxy)', function () {
  this.timeout(60000);
  const ctx = useBalancedServer('send-proxy');

  it("OpenSSH's sftp from 127.0.0.2: logged in from 127.0.0.2, the node stays up", async function () {
    await fsp.writeFile(path.join(ctx.local(), 'v1.txt'), 'through a version 1 header\n');
    const up = await sftpBatch(ctx.haproxy().port, USER, ['put v1.txt', 'ls -l'], {
      cwd: ctx.local(),
      extraArgs: from('127.0.0.2'),
    });
    expect(up.code, up.stderr).to.equal(0);
    expect(up.stdout).to.match(/v1\.txt/);
    const login = await waitForLog(ctx.server().dataDir, 'login.ok', { user: 'zhangsan' });
    expect(login.ip).to.equal('127.0.0.2');
    expect((await ctx.haproxy().status()).s1).to.equal('UP');
  });
});
