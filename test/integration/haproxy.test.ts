/**
 * MiniFTP behind a real HAProxy (`mode tcp`, `send-proxy-v2` or `send-proxy`,
 * `check`): the client's address from the PROXY header is the one the console's
 * `sessions`, the log and the bans see; health checks leave no trace (the
 * header's own cases, straight from sockets: proxy-protocol.test.ts).
 *
 * Draining: SIGTERM (or the console's `drain`) closes the listening socket, so
 * HAProxy's check marks the node down and sends no new connections; running
 * uploads finish, or at the drain timeout are ended with a reason OpenSSH's
 * sftp prints, and resume on the next node through the MD5-prefix rule. The
 * process exits 0 either way.
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { connect } from '../../src/client/connect';
import { upload } from '../../src/client/transfer';
import { V2_SIGNATURE } from '../../src/ssh/proxy-header';
import { sha256File, writeRandomFile } from '../helpers/files';
import { freePort, haveHaproxy, startHaproxy, type Haproxy } from '../helpers/haproxy';
import { haveOpenSsh, sftpBatch, sshExec, type ClientRun } from '../helpers/openssh';
import { logLines, waitForLog, waitUntil } from '../helpers/probe';
import { makeDataDir, startTestServer, type TestServer } from '../helpers/server';
import {
  startServerProcess,
  type ServerProcess,
  stopServerProcesses,
} from '../helpers/server-process';
import { call, connectClient, openSftp } from '../helpers/ssh-client';
import { postgresDatabase } from '../helpers/postgres';
import { quotaUsage } from '../helpers/quota';
import { openPostgresStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';

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

/** HAProxy and OpenSSH's clients, which .ci/run installs: a missing one fails, naming its package. */
async function requireTools(): Promise<void> {
  if (!haveHaproxy()) throw new Error('haproxy is not installed: apt-get install haproxy');
  if (!(await haveOpenSsh()))
    throw new Error('sftp is not installed: apt-get install openssh-client');
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
    await requireTools();
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

const MiB = 1024 * 1024;
const BALANCED = ['--proxy-protocol', '--trusted-proxies', '127.0.0.1'];
const REASON = 'server is shutting down for maintenance; reconnect to continue';

async function sizeOf(file: string): Promise<number> {
  return fsp.stat(file).then(
    (s) => s.size,
    () => 0,
  );
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

describe('draining a node behind HAProxy', function () {
  this.timeout(90000);
  let dataDir = '';
  let local = '';
  let haproxy: Haproxy | undefined;
  const nodes: ServerProcess[] = [];

  beforeEach(async function () {
    await requireTools();
    dataDir = await makeDataDir();
    local = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-drain-local-'));
  });

  afterEach(async function () {
    await haproxy?.stop();
    haproxy = undefined;
    for (const node of nodes.splice(0)) {
      if (node.child.exitCode === null && node.child.signalCode === null) {
        node.child.kill('SIGKILL');
        await node.exited;
      }
    }
    if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
    if (local) await fsp.rm(local, { recursive: true, force: true });
  });

  async function startNode(flags: string[]): Promise<ServerProcess> {
    const node = await startServerProcess(dataDir, [...BALANCED, ...flags]);
    nodes.push(node);
    return node;
  }

  async function statusOf(name: string): Promise<string> {
    return (await (haproxy as Haproxy).status())[name] ?? '';
  }

  it('SIGTERM with an upload running: it finishes, HAProxy marks the node down, new connections are refused, exit 0', async function () {
    const node = await startNode(['--drain-timeout', '60s']);
    haproxy = await startHaproxy({ servers: [{ name: 's1', port: node.port }] });
    await waitUntil('s1 up', async () => (await statusOf('s1')) === 'UP');
    const file = path.join(local, 'big.bin');
    await writeRandomFile(file, 3 * MiB);
    const remote = path.join(dataDir, 'docs', 'zhangsan', 'big.bin');
    // 8192 Kbit/s: about three seconds for the whole file.
    const uploading = sftpBatch(haproxy.port, USER, ['put big.bin'], {
      cwd: local,
      extraArgs: ['-l', '8192'],
    });
    let finished = false;
    void uploading.then(() => (finished = true));
    await waitUntil('the upload under way', async () => (await sizeOf(remote)) > 0);
    expect(finished, 'the upload ended before the drain started').to.equal(false);
    node.child.kill('SIGTERM');

    await waitUntil('HAProxy marks s1 down', async () => (await statusOf('s1')).startsWith('DOWN'));
    expect(await refusesConnections(node.port)).to.equal(true);
    const turnedAway = await sftpBatch(haproxy.port, USER, ['ls'], {});
    expect(turnedAway.code).to.not.equal(0);

    const done = await uploading;
    expect(done.code, done.stderr).to.equal(0);
    expect(await sha256File(remote)).to.equal(await sha256File(file));
    const end = await node.exited;
    expect(end.code, end.stderr).to.equal(0);
    const events = (await logLines(dataDir)).map((l) => String(l.event));
    expect(events).to.include.members(['server.signal', 'server.draining', 'server.stopped']);
    expect(events).to.not.include('server.drain_timeout');
  });

  it('`drain --timeout 1s` from the console: the upload still running is ended with the reason sftp prints, and resumes on the next node', async function () {
    const nextPort = await freePort();
    const first = await startNode(['--drain-timeout', '60s']);
    haproxy = await startHaproxy({
      servers: [
        { name: 'a', port: first.port },
        { name: 'b', port: nextPort },
      ],
    });
    await waitUntil('a up, b down', async () => {
      const s = await haproxy?.status();
      return s?.a === 'UP' && (s.b ?? '').startsWith('DOWN');
    });
    const file = path.join(local, 'big.bin');
    await writeRandomFile(file, 8 * MiB);
    const remote = path.join(dataDir, 'docs', 'zhangsan', 'big.bin');
    // 2048 Kbit/s: half a minute for the whole file, far more than the drain allows.
    const uploading = sftpBatch(haproxy.port, USER, ['put big.bin'], {
      cwd: local,
      extraArgs: ['-l', '2048'],
    });
    await waitUntil('the upload under way', async () => (await sizeOf(remote)) > 256 * 1024);
    const drained = await sshExec(haproxy.port, ADMIN, ['drain', '--timeout', '1s']);
    expect(drained.code, drained.stderr).to.equal(0);
    expect(drained.stdout).to.match(/draining: no new connections/);

    const cut = await uploading;
    expect(cut.code).to.not.equal(0);
    expect(cut.stderr).to.include(`miniftp: disconnected: ${REASON}`);
    const end = await first.exited;
    expect(end.code, end.stderr).to.equal(0);
    const partial = await sizeOf(remote);
    expect(partial)
      .to.be.above(0)
      .and.below(8 * MiB);
    const timedOut = (await logLines(dataDir)).find((l) => l.event === 'server.drain_timeout');
    expect(timedOut, 'the drain timed out').to.not.equal(undefined);

    // The next node (here the upgraded one, on the same data directory).
    const next = await startNode(['--port', String(nextPort)]);
    await waitUntil('b up', async () => (await statusOf('b')) === 'UP');
    const conn = await connect({
      host: '127.0.0.1',
      port: haproxy.port,
      username: USER.user,
      password: USER.password,
    });
    try {
      const result = await upload(conn.sftp, file, '/big.bin', { resume: 'auto' });
      expect(result.resumedFrom).to.equal(partial);
      expect(result.verified).to.equal(true);
    } finally {
      await conn.close();
    }
    expect(await sha256File(remote)).to.equal(await sha256File(file));
    next.child.kill('SIGTERM');
    expect((await next.exited).code).to.equal(0);
  });

  for (const second of ['SIGTERM', 'SIGINT'] as const) {
    it(`a ${second} during a drain ends the connections at once; exit 0`, async function () {
      const node = await startNode(['--drain-timeout', '60s']);
      haproxy = await startHaproxy({ servers: [{ name: 's1', port: node.port }] });
      await waitUntil('s1 up', async () => (await statusOf('s1')) === 'UP');
      const client = await connectClient(haproxy.port, USER);
      client.on('error', () => undefined);
      const cut = new Promise<void>((resolve) => client.once('close', () => resolve()));
      node.child.kill('SIGTERM');
      const drainSignal = await waitForLog(dataDir, 'server.signal', { action: 'drain' });
      // Under setpriv, a SIGTERM within 300 ms of the first counts as that one delivered
      // twice (src/main/cli.ts): the second one comes after.
      const first = Date.parse(String(drainSignal.time));
      await waitUntil('300 ms after the first signal', () => Date.now() - first > 400);
      // To the server's own process: the outer one passes signals on only while it runs.
      process.kill(node.pid, second);
      await cut;
      const end = await node.exited;
      expect(end.code, end.stderr).to.equal(0);
      const lines = await logLines(dataDir);
      expect(lines.filter((l) => l.event === 'server.signal').map((l) => l.action)).to.deep.equal([
        'drain',
        'stop',
      ]);
      expect(lines.map((l) => l.event)).to.not.include('server.drain_timeout');
    });
  }
});

describe('two nodes behind HAProxy on one PostgreSQL and one homes directory', function () {
  this.timeout(120000);
  let dataDir = '';
  let local = '';
  let haproxy: Haproxy | undefined;
  let store: Store | undefined;
  const nodes: ServerProcess[] = [];

  before(async function () {
    await requireTools();
    dataDir = await makeDataDir();
    local = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-two-nodes-'));
    const url = await postgresDatabase();
    const flags = [
      ...BALANCED,
      '--store-url',
      url,
      '--lease-time',
      '2',
      '--checkpoint-every',
      '1M',
      '--default-quota',
      '20M',
    ];
    nodes.push(await startServerProcess(dataDir, flags));
    nodes.push(await startServerProcess(dataDir, flags));
    store = await openPostgresStore({ url, poolSize: 2, timeoutMs: 10_000 });
    haproxy = await startHaproxy({
      servers: nodes.map((n, i) => ({ name: `node${i + 1}`, port: n.port })),
    });
    await waitUntil('both nodes up', async () => {
      const s = await haproxy?.status();
      return s?.node1 === 'UP' && s.node2 === 'UP';
    });
  });

  after(async function () {
    await haproxy?.stop();
    await store?.close();
    await stopServerProcesses(nodes);
    if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
    if (local) await fsp.rm(local, { recursive: true, force: true });
  });

  it('the node carrying an upload is killed: the next connection lands on the other and resumes by MD5; usage is exact without a rescan', async function () {
    const front = (haproxy as Haproxy).port;
    const file = path.join(local, 'big.bin');
    await writeRandomFile(file, 8 * MiB);
    const content = await fsp.readFile(file);
    const client = await connectClient(front, USER);
    client.on('error', () => undefined);
    const sftp = await openSftp(client);
    sftp.on('error', () => undefined);
    const handle = await call<Buffer>((cb) => sftp.open('/big.bin', 'w', cb));
    let sent = 0;
    while (sent < 3 * MiB + 256 * 1024) {
      await call((cb) => sftp.write(handle, content, sent, 256 * 1024, sent, cb));
      sent += 256 * 1024;
    }
    await waitUntil(
      'a checkpoint in the store',
      async () =>
        (await (store as Store).sql.get('SELECT bytes FROM upload_checkpoints')) !== undefined,
    );
    // The node HAProxy sent the upload to.
    const open = await (haproxy as Haproxy).sessions();
    const carrier = open.node1 === 1 ? 0 : 1;
    expect(open[`node${carrier + 1}`], JSON.stringify(open)).to.equal(1);
    const dead = nodes[carrier] as ServerProcess;
    dead.child.kill('SIGKILL');
    await dead.exited;
    await waitUntil('HAProxy marks the dead node down', async () =>
      ((await haproxy?.status())?.[`node${carrier + 1}`] ?? '').startsWith('DOWN'),
    );

    const home = path.join(dataDir, 'docs', 'zhangsan');
    const partial = (await fsp.stat(path.join(home, 'big.bin'))).size;
    expect(partial).to.be.at.least(sent).and.below(content.length);
    const conn = await connect({
      host: '127.0.0.1',
      port: front,
      username: USER.user,
      password: USER.password,
    });
    try {
      const result = await upload(conn.sftp, file, '/big.bin', { resume: 'auto' });
      expect(result.resumedFrom).to.equal(partial);
      expect(result.verified).to.equal(true);
    } finally {
      await conn.close();
    }
    expect(await sha256File(path.join(home, 'big.bin'))).to.equal(await sha256File(file));
    const accepted = (await logLines(dataDir)).find((l) => l.event === 'resume.accepted');
    expect(accepted?.from_checkpoint, 'the prefix MD5 went on from a checkpoint').to.be.a('number');
    // Quota: once the dead node's lease had run out, the other node (its sweep, or the resume
    // taking the lease over) charged what the dead node wrote since its last settle; no rescan.
    const disk = await quotaUsage(home);
    expect(disk.files).to.equal(1);
    await waitUntil(
      'the store holds what the disk holds',
      async () => {
        const usage = await (store as Store).usage.get('zhangsan');
        return usage.bytes === disk.bytes && usage.files === disk.files;
      },
      10_000,
    );
    const ended = (await logLines(dataDir)).filter((l) => l.event === 'upload.lease_expired');
    expect(ended.map((l) => l.path)).to.deep.equal(['/big.bin']);
  });
});
