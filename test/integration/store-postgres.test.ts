/**
 * The server on a PostgreSQL store (--store-url, on the run's private cluster): OpenSSH logins
 * and uploads, the admin console, what the log shows of the URL, an unreachable database at
 * start, and the database going away while the server runs.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import pg from 'pg';
import type { Client, ClientChannel } from 'ssh2';
import { haveOpenSsh, sftpBatch, sshExec } from '../helpers/openssh';
import { freePort, pgCluster, postgresDatabase, PG_PASSWORD } from '../helpers/postgres';
import { logLines, waitUntil } from '../helpers/probe';
import { startServerProcess } from '../helpers/server-process';
import { makeDataDir, startTestServer, type TestServer } from '../helpers/server';
import { call, connectClient, endClient, openSftp } from '../helpers/ssh-client';

const ADMIN = { user: 'admin', password: 'password' };
const USER = { user: 'zhangsan', password: '123' };
const MiB = 1024 * 1024;

async function rows(url: string, text: string): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}

/** A console without a terminal on an ssh2 connection: lines in, everything it prints out. */
class Console {
  output = '';
  private readonly waiters: Array<() => void> = [];

  constructor(readonly channel: ClientChannel) {
    const add = (d: Buffer): void => {
      this.output += d.toString('utf8');
      for (const w of this.waiters.splice(0)) w();
    };
    channel.on('data', add);
    channel.stderr.on('data', add);
  }

  async run(line: string, expected: RegExp): Promise<string> {
    const from = this.output.length;
    this.channel.write(`${line}\n`);
    while (!expected.test(this.output.slice(from))) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return this.output.slice(from);
  }
}

describe('store on PostgreSQL', function () {
  this.timeout(120_000);
  let url: string;
  let server: TestServer;
  let local: string;

  before(async function () {
    if (!(await haveOpenSsh())) this.skip();
    url = await postgresDatabase();
    server = await startTestServer({ flags: ['--store-url', url] });
    local = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-pg-local-'));
  });

  after(async () => {
    await server?.stop();
    if (local) await fsp.rm(local, { recursive: true, force: true });
  });

  it('keeps the first-start accounts in PostgreSQL, and the log shows the URL without its password', async () => {
    const names = await rows(url, 'SELECT name, is_admin FROM users ORDER BY name');
    expect(names).to.deep.equal([
      { name: 'admin', is_admin: 1 },
      { name: 'zhangsan', is_admin: 0 },
    ]);
    expect(server.store.kind).to.equal('postgres');
    const opened = (await logLines(server.dataDir)).find((l) => l.event === 'store.opened');
    expect(opened?.kind).to.equal('postgres');
    expect(String(opened?.location)).to.include(':***@127.0.0.1:');
    const log = (await fsp.readdir(path.join(server.dataDir, 'log'))).map((f) =>
      path.join(server.dataDir, 'log', f),
    );
    for (const file of log) expect(await fsp.readFile(file, 'utf8')).to.not.include(PG_PASSWORD);
  });

  it('logs in and uploads with OpenSSH sftp; the upload record and usage land in PostgreSQL', async () => {
    const data = Buffer.alloc(2 * MiB, 7);
    await fsp.writeFile(path.join(local, 'big.bin'), data);
    const run = await sftpBatch(server.port, USER, ['put big.bin', 'ls -l'], { cwd: local });
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.include('big.bin');
    expect((await fsp.stat(path.join(server.home('zhangsan'), 'big.bin'))).size).to.equal(
      data.length,
    );
    await waitUntil('the upload record in PostgreSQL', async () => {
      const found = await rows(url, `SELECT bytes FROM uploads WHERE path = '/big.bin'`);
      return Number(found[0]?.bytes) === data.length;
    });
    await waitUntil('the usage in PostgreSQL', async () => {
      const found = await rows(url, `SELECT bytes FROM "usage" WHERE "user" = 'zhangsan'`);
      return Number(found[0]?.bytes) >= data.length;
    });
    const last = await rows(url, `SELECT last_login_at FROM users WHERE name = 'zhangsan'`);
    expect(last[0]?.last_login_at).to.be.a('string');
  });

  it('adds a user and lists users with the admin console; the new user logs in', async () => {
    const add = await sshExec(
      server.port,
      ADMIN,
      ['user', 'add', 'lisi', '--quota', '10M', '--password-stdin'],
      's3cret-lisi\n',
    );
    expect(add.code, add.stderr).to.equal(0);
    expect(add.stdout).to.include("user 'lisi' created");
    const list = await sshExec(server.port, ADMIN, ['users']);
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout).to.match(/^lisi\s+10 MiB/m);
    expect(list.stdout).to.match(/^zhangsan\s/m);
    expect(await rows(url, `SELECT quota_bytes FROM users WHERE name = 'lisi'`)).to.deep.equal([
      { quota_bytes: String(10 * MiB) },
    ]);
    const run = await sftpBatch(server.port, { user: 'lisi', password: 's3cret-lisi' }, ['pwd']);
    expect(run.code, run.stderr).to.equal(0);
  });

  it('with the database gone: new logins and console commands fail saying so, open sessions go on, and all recovers', async () => {
    const cluster = await pgCluster();
    const user = await connectClient(server.port, USER);
    const admin: Client = await connectClient(server.port, ADMIN);
    try {
      const sftp = await openSftp(user);
      const shell = await new Promise<ClientChannel>((resolve, reject) =>
        admin.shell(false, {}, (err, channel) => (err ? reject(err) : resolve(channel))),
      );
      const console = new Console(shell);
      await console.run('user list', /zhangsan/);
      await call((cb) => sftp.writeFile('/before.txt', 'written before', cb));

      cluster.stop();
      try {
        const login = await sftpBatch(server.port, USER, ['pwd']);
        expect(login.code).to.not.equal(0);
        expect(login.stderr, login.stderr).to.include('the user database is out of reach');
        const out = await console.run('user list', /error/);
        expect(out).to.include('the user database is out of reach');
        // A session opened before the outage still lists and writes: quota answers from memory.
        const names = await call<Array<{ filename: string }>>((cb) => sftp.readdir('/', cb));
        expect(names.map((n) => n.filename)).to.include('before.txt');
        await call((cb) =>
          sftp.writeFile('/during.txt', 'written while the database was down', cb),
        );
      } finally {
        cluster.start();
      }
      const back = await sftpBatch(server.port, USER, ['ls']);
      expect(back.code, back.stderr).to.equal(0);
      expect(back.stdout).to.include('during.txt');
      expect(await console.run('user list', /lisi/)).to.include('zhangsan');
    } finally {
      await endClient(user);
      await endClient(admin);
    }
  });
});

describe('store on PostgreSQL: out of reach at start', function () {
  this.timeout(60_000);

  it('exits non-zero with one line naming --store-url and host:port, never the password', async () => {
    const port = await freePort();
    const dataDir = await makeDataDir();
    try {
      const err = await startServerProcess(dataDir, [
        '--store-url',
        `postgres://miniftp:hunter2-secret@127.0.0.1:${port}/miniftp`,
      ]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(Error);
      const message = (err as Error).message;
      expect(message).to.match(/server exited \(2\)/);
      const stderr = message.slice(message.indexOf('listening:') + 'listening:'.length).trim();
      expect(stderr.split('\n')).to.have.length(1);
      expect(stderr).to.include('--store-url postgres://miniftp:***@127.0.0.1');
      expect(stderr).to.include(`no database answers at 127.0.0.1:${port}`);
      expect(stderr).to.not.include('hunter2-secret');
    } finally {
      await fsp.rm(dataDir, { recursive: true, force: true });
    }
  });
});
