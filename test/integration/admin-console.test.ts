/**
 * The admin console over SSH: every command through OpenSSH `ssh admin@host CMD`, a script on
 * stdin, an interactive pty session through ssh2, and the effects on users' live sessions.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import type { Client, ClientChannel } from 'ssh2';
import { Status } from '../../src/sftp/constants';
import { haveOpenSsh, makeClientKey, sftpBatch, sshExec, type ClientRun } from '../helpers/openssh';
import { startTestServer, type TestServer } from '../helpers/server';
import {
  call,
  connectClient,
  endClient,
  expectFailure,
  openSftp,
  closedOf,
} from '../helpers/ssh-client';

const ADMIN = { user: 'admin', password: 'password' };
const KiB = 1024;

/** Every JSON line the server logged. */
async function logLines(server: TestServer): Promise<Record<string, unknown>[]> {
  const dir = path.join(server.dataDir, 'log');
  const lines: Record<string, unknown>[] = [];
  for (const file of await fsp.readdir(dir)) {
    const text = await fsp.readFile(path.join(dir, file), 'utf8');
    for (const line of text.split('\n')) {
      if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
    }
  }
  return lines;
}

function expectOk(run: ClientRun): string {
  expect(run.stderr, 'stderr').to.equal('');
  expect(run.code, `exit status (stderr: ${run.stderr})`).to.equal(0);
  return run.stdout;
}

/** A failed command: non-zero status and exactly one line on stderr, which is returned. */
function expectError(run: ClientRun): string {
  expect(run.code, `exit status (stdout: ${run.stdout})`).to.not.equal(0);
  const lines = run.stderr.split('\n').filter((l) => l !== '');
  expect(lines, 'stderr lines').to.have.length(1);
  return lines[0] as string;
}

async function canSftp(port: number, user: string, password: string): Promise<boolean> {
  const run = await sftpBatch(port, { user, password }, ['pwd']);
  return run.code === 0;
}

describe('admin console: commands through ssh exec', function () {
  let server: TestServer;
  const admin = (argv: string[], input = ''): Promise<ClientRun> =>
    sshExec(server.port, ADMIN, argv, input);

  before(async function () {
    if (!(await haveOpenSsh())) this.skip();
    server = await startTestServer();
  });

  after(async () => {
    await server?.stop();
  });

  it('adds a user who can log in with sftp at once', async () => {
    const out = expectOk(
      await admin(['user', 'add', 'bob', '--quota', '1G', '--password-stdin'], 'secret\n'),
    );
    expect(out).to.equal("user 'bob' created, quota 1 GiB\n");
    expect((await server.store.users.get('bob'))?.quotaBytes).to.equal(1024 ** 3);
    expect(await canSftp(server.port, 'bob', 'secret')).to.equal(true);
    await fsp.access(server.home('bob'));
  });

  it('refuses a name that is taken, malformed or reserved, saying why', async () => {
    expect(expectError(await admin(['user', 'add', 'bob', '--generate']))).to.equal(
      "error: user 'bob' exists (see: user show bob)",
    );
    for (const bad of ['Bob', '1bob', 'bo b', 'a'.repeat(33), '../x']) {
      const line = expectError(await admin(['user', 'add', `'${bad}'`, '--generate']));
      expect(line, bad).to.match(/is not allowed: use 1-32 of a-z 0-9/);
    }
    for (const reserved of ['root', 'admin', 'nobody', 'sshd', 'daemon']) {
      const line = expectError(await admin(['user', 'add', reserved, '--generate']));
      expect(line, reserved).to.equal(`error: user name '${reserved}' is reserved: choose another`);
    }
  });

  it('without a terminal, wants --password-stdin or --generate', async () => {
    const line = expectError(await admin(['user', 'add', 'carl']));
    expect(line).to.match(/use --password-stdin .* or --generate/);
    expect(expectError(await admin(['user', 'add', 'carl', '--password-stdin']))).to.match(
      /no password on standard input/,
    );
    expect(await server.store.users.get('carl')).to.equal(undefined);
  });

  it('generates a password and reports the account as JSON', async () => {
    const out = expectOk(await admin(['user', 'add', 'carol', '--generate', '--json']));
    const json = JSON.parse(out) as { name: string; password: string; quotaBytes: number };
    expect(json.name).to.equal('carol');
    expect(json.password).to.match(/^[A-Za-z0-9_-]{16}$/);
    expect(json.quotaBytes).to.equal(server.config.users.defaultQuota);
    expect(await canSftp(server.port, 'carol', json.password)).to.equal(true);
  });

  it('parses quotes in the command line rather than passing it to a shell', async () => {
    // ssh joins its arguments with spaces: the quotes arrive as typed.
    const out = expectOk(
      await admin([`user add 'dave' --quota "2G" --password-stdin`], 'pw; rm -rf /\n'),
    );
    expect(out).to.match(/user 'dave' created, quota 2 GiB/);
    expect(await canSftp(server.port, 'dave', 'pw; rm -rf /')).to.equal(true);
    expect(expectError(await admin([`user show 'dave`]))).to.match(/unterminated single quote/);
    expect(expectError(await admin(['user', 'show', 'dave;', 'id']))).to.match(/^error: usage:/);
  });

  it('lists users as an aligned table and as JSON', async () => {
    const table = expectOk(await admin(['user', 'list']))
      .trimEnd()
      .split('\n');
    expect(table[0]).to.match(/^NAME\s+QUOTA\s+USED\s+FILES\s+STATE\s+LAST LOGIN$/);
    const bob = table.find((l) => l.startsWith('bob '));
    expect(bob).to.match(/^bob\s+1 GiB\s+0 B \(0%\)\s+0\s+active\s+\d{4}-\d\d-\d\d \d\d:\d\d$/);
    // Columns line up: every row is as long as the longest cell of each column makes it.
    const stateAt = (table[0] as string).indexOf('STATE');
    for (const row of table.slice(1)) expect(row.slice(stateAt, stateAt + 1)).to.match(/\S/);

    const users = JSON.parse(expectOk(await admin(['user', 'list', '--json']))) as {
      name: string;
      role: string;
      state: string;
      quotaBytes: number;
      lastLoginAt: string | null;
    }[];
    expect(users.map((u) => u.name)).to.deep.equal(['admin', 'bob', 'carol', 'dave', 'zhangsan']);
    expect(users.find((u) => u.name === 'admin')?.role).to.equal('admin');
    expect(users.find((u) => u.name === 'bob')).to.include({
      state: 'active',
      quotaBytes: 1024 ** 3,
    });
    expect(users.find((u) => u.name === 'bob')?.lastLoginAt).to.be.a('string');
  });

  it('shows one user, and says how to find the names when there is no such user', async () => {
    const text = expectOk(await admin(['user', 'show', 'bob']));
    expect(text).to.match(/^name\s+bob$/m);
    expect(text).to.match(/^quota\s+1 GiB$/m);
    const json = JSON.parse(expectOk(await admin(['user', 'show', 'bob', '--json']))) as {
      name: string;
      keys: unknown[];
    };
    expect(json.name).to.equal('bob');
    expect(json.keys).to.deep.equal([]);
    expect(expectError(await admin(['user', 'show', 'nosuch']))).to.equal(
      "error: no user 'nosuch' (see: user list)",
    );
  });

  it('sets quotas in bytes and files, and refuses sizes it cannot read', async () => {
    expectOk(await admin(['quota', 'bob', '500M']));
    expect((await server.store.users.get('bob'))?.quotaBytes).to.equal(500 * 1024 * 1024);
    expect(expectError(await admin(['quota', 'bob', '-1']))).to.equal(
      "error: quota cannot be negative, got '-1'",
    );
    expect(expectError(await admin(['quota', 'bob', '0.0001K']))).to.equal(
      "error: quota is less than one byte, got '0.0001K'",
    );
    // 0 would be stored as "no limit": it must be written as such.
    expect(expectError(await admin(['quota', 'bob', '0']))).to.equal(
      "error: a quota of '0' would mean no limit: write 'unlimited' for that, or a size such as 500M",
    );
    expect(expectError(await admin(['quota', 'bob', '--files', '0']))).to.equal(
      "error: --files 0 would mean no limit: write 'unlimited' for that, or a count such as 1000",
    );
    expect((await server.store.users.get('bob'))?.quotaBytes).to.equal(500 * 1024 * 1024);
    const json = JSON.parse(
      expectOk(await admin(['quota', 'bob', 'unlimited', '--files', '10', '--json'])),
    ) as { quotaBytes: number; quotaFiles: number };
    expect(json).to.include({ quotaBytes: 0, quotaFiles: 10 });
    expect(expectError(await admin(['quota', 'bob', 'lots']))).to.equal(
      "error: quota must look like 500M or 1G (or unlimited), got 'lots'",
    );
    expect(expectError(await admin(['quota', 'admin', '1G']))).to.match(/admin account/);
    expectOk(await admin(['quota', 'bob', '1G', '--files', 'unlimited']));
    expect(await server.store.users.get('bob')).to.include({
      quotaBytes: 1024 ** 3,
      quotaFiles: 0,
    });
  });

  it('changes passwords from stdin', async () => {
    expectOk(await admin(['passwd', 'dave', '--password-stdin'], 'n3w pass\n'));
    expect(await canSftp(server.port, 'dave', 'n3w pass')).to.equal(true);
    expect(await canSftp(server.port, 'dave', 'pw; rm -rf /')).to.equal(false);
    expect(expectError(await admin(['passwd', 'dave']))).to.match(/--password-stdin/);
  });

  it("changes the admin's own password when no name is given", async () => {
    expectOk(await admin(['passwd', '--password-stdin'], 'adm1n\n'));
    const run = await sshExec(
      server.port,
      { user: 'admin', password: 'adm1n' },
      ['passwd', '--password-stdin'],
      'password\n',
    );
    expect(expectOk(run)).to.include(
      "warning: 'password' is the first-start admin password: " +
        'the server will not start on a non-loopback address until it is changed',
    );
    const json = await sshExec(
      server.port,
      { user: 'admin', password: 'password' },
      ['passwd', '--password-stdin', '--json'],
      'password\n',
    );
    expect(JSON.parse(expectOk(json))).to.deep.include({ name: 'admin', changed: true });
    expect(JSON.parse(expectOk(json)).warning).to.match(/first-start admin password/);
  });

  it('disables and enables accounts, never the admin itself', async () => {
    expectOk(await admin(['user', 'disable', 'dave']));
    expect(await canSftp(server.port, 'dave', 'n3w pass')).to.equal(false);
    expect(JSON.parse(expectOk(await admin(['user', 'show', 'dave', '--json'])))).to.include({
      state: 'disabled',
    });
    expectOk(await admin(['user', 'enable', 'dave']));
    expect(await canSftp(server.port, 'dave', 'n3w pass')).to.equal(true);
    expect(expectError(await admin(['user', 'disable', 'admin']))).to.match(/your own account/);
    expect(expectError(await admin(['user', 'del', 'admin', '--yes']))).to.match(
      /your own account/,
    );
  });

  it('adds, lists and removes public keys', async () => {
    const key = makeClientKey();
    // Unquoted, the key arrives as three words; they are joined back into the line.
    const added = expectOk(
      await admin(['key', 'add', 'bob', ...key.publicLine.split(' '), 'bob@laptop']),
    );
    const fingerprint = /key (SHA256:\S+)/.exec(added)?.[1] as string;
    expect(fingerprint).to.be.a('string');
    const login = await sftpBatch(server.port, { user: 'bob', identity: key.identity }, ['pwd']);
    expect(login.code, login.stderr).to.equal(0);

    expect(expectError(await admin(['key', 'add', 'bob', `'${key.publicLine}'`]))).to.match(
      /already has the key/,
    );
    expect(expectError(await admin(['key', 'add', 'bob', 'ssh-ed25519', 'AAAAnotakey']))).to.match(
      /not an SSH public key/,
    );
    const table = expectOk(await admin(['key', 'list', 'bob']));
    expect(table).to.match(/^FINGERPRINT\s+TYPE\s+COMMENT\s+ADDED$/m);
    const keys = JSON.parse(expectOk(await admin(['key', 'list', 'bob', '--json']))) as {
      fingerprint: string;
      algo: string;
      comment: string;
    }[];
    expect(keys).to.have.length(1);
    expect(keys[0]).to.include({ fingerprint, algo: 'ssh-ed25519', comment: 'bob@laptop' });

    expectOk(await admin(['key', 'del', 'bob', fingerprint]));
    expect(await server.store.keys.list('bob')).to.deep.equal([]);
    expect(expectError(await admin(['key', 'del', 'bob', fingerprint]))).to.match(/has no key/);
    // A pasted private key reaches the key parser (not the option parser), and says what it is;
    // a lower-case prefix on the fingerprint is not doubled.
    expect(
      expectError(
        await admin(['key', 'add', 'bob', '-----BEGIN', 'OPENSSH', 'PRIVATE', 'KEY-----']),
      ),
    ).to.equal('error: not an SSH public key: this is a private key; paste the .pub file instead');
    expect(expectError(await admin(['key', 'del', 'bob', 'sha256:abc']))).to.equal(
      "error: user 'bob' has no key SHA256:abc (see: key list bob)",
    );
    const refused = await sftpBatch(server.port, { user: 'bob', identity: key.identity }, ['pwd']);
    expect(refused.code).to.not.equal(0);
  });

  it('shows usage and rescans it from the disk', async () => {
    // A file that arrived behind the server's back is only counted after a rescan.
    await fsp.writeFile(path.join(server.home('bob'), 'outside.bin'), Buffer.alloc(3000));
    const before = JSON.parse(expectOk(await admin(['usage', 'bob', '--json']))) as {
      usedBytes: number;
    }[];
    expect(before[0]?.usedBytes).to.equal(0);
    const after = JSON.parse(expectOk(await admin(['usage', 'bob', '--rescan', '--json']))) as {
      name: string;
      usedBytes: number;
      usedFiles: number;
      scannedAt: string | null;
    }[];
    expect(after).to.have.length(1);
    expect(after[0]).to.include({ name: 'bob', usedBytes: 3000, usedFiles: 1 });
    expect(after[0]?.scannedAt).to.be.a('string');
    const table = expectOk(await admin(['usage']));
    expect(table).to.match(/^NAME\s+USED\s+QUOTA\s+FILES\s+SCANNED$/m);
    expect(table).to.match(/^bob\s+2\.9 KiB \(0%\)\s+1 GiB\s+1\s/m);
  });

  it('lists live sessions and ends one with kick, saying why on its open channel', async () => {
    const client = await connectClient(server.port, { user: 'zhangsan', password: '123' });
    const closed = closedOf(client);
    const sftp = await new Promise<ClientChannel>((resolve, reject) =>
      client.subsys('sftp', (err, channel) => (err ? reject(err) : resolve(channel))),
    );
    let said = '';
    sftp.stderr.on('data', (d: Buffer) => (said += d.toString()));
    const sessions = JSON.parse(expectOk(await admin(['sessions', '--json']))) as {
      id: string;
      user: string | null;
      current: boolean;
    }[];
    const mine = sessions.find((s) => s.current);
    expect(mine?.user).to.equal('admin');
    const theirs = sessions.find((s) => s.user === 'zhangsan');
    expect(theirs, JSON.stringify(sessions)).to.not.equal(undefined);
    expect(expectOk(await admin(['sessions']))).to.match(
      /^ID\s+USER\s+FROM\s+SINCE\s+AUTH\s+CLIENT$/m,
    );

    const out = expectOk(await admin(['kick', theirs?.id as string]));
    expect(out).to.match(/ended/);
    await closed;
    expect(said).to.equal('miniftp: disconnected: kicked by admin\n');
    expect(expectError(await admin(['kick', 'zzzz']))).to.equal(
      "error: no session 'zzzz' (see: sessions)",
    );
  });

  it('deletes a user: sessions end, logins fail, files stay unless --purge', async () => {
    expectOk(await admin(['user', 'add', 'erin', '--password-stdin'], 'erinpw\n'));
    const erin = await connectClient(server.port, { user: 'erin', password: 'erinpw' });
    const closed = closedOf(erin);
    // A one-shot command has no terminal to confirm on: without --yes nothing happens.
    expect(expectError(await admin(['user', 'del', 'erin']))).to.equal(
      "error: user del needs --yes without a terminal to confirm on (it would delete 'erin' (files are kept))",
    );
    expect(await server.store.users.get('erin')).to.not.equal(undefined);
    const out = expectOk(await admin(['user', 'del', 'erin', '--yes']));
    expect(out).to.equal("user 'erin' deleted; 1 session ended; files kept\n");
    await closed;
    expect(await canSftp(server.port, 'erin', 'erinpw')).to.equal(false);
    await fsp.access(server.home('erin'));

    expectOk(await admin(['user', 'del', 'dave', '--purge', '--yes']));
    const gone = await fsp.access(server.home('dave')).then(
      () => false,
      () => true,
    );
    expect(gone, 'home removed by --purge').to.equal(true);
    expect(await server.store.users.get('dave')).to.equal(undefined);
    expect(expectError(await admin(['user', 'del', 'dave']))).to.match(/no user 'dave'/);
  });

  it('explains commands, and refuses unknown ones and the interactive menu', async () => {
    const help = expectOk(await admin(['help']));
    for (const name of ['user add', 'user del', 'user list', 'user show', 'quota', 'passwd']) {
      expect(help).to.include(name);
    }
    for (const name of ['user disable', 'user enable', 'key add', 'key list', 'key del']) {
      expect(help).to.include(name);
    }
    for (const name of ['usage', 'sessions', 'kick', 'help', 'exit', 'menu']) {
      expect(help).to.include(name);
    }
    expect(expectOk(await admin(['help', 'user', 'add']))).to.match(/^usage: user add NAME/);
    expect(expectOk(await admin(['quota', '--help']))).to.match(/^usage: quota NAME/);
    expect(expectError(await admin(['frobnicate']))).to.equal(
      "error: unknown command 'frobnicate': type help for the list",
    );
    expect(expectError(await admin(['usr', 'list']))).to.equal(
      "error: unknown command 'usr' — did you mean 'user'? (type help for the list)",
    );
    expect(expectError(await admin(['user', 'lsit']))).to.equal(
      "error: unknown command 'user lsit' — did you mean 'user list'?",
    );
    expect(expectError(await admin(['user', 'zap']))).to.match(
      /^error: unknown command 'user zap': user takes add, del, /,
    );
    expect(expectError(await admin(['user']))).to.match(/user needs one of: add, del/);
    expect(expectError(await admin(['user', 'list', '--force']))).to.equal(
      'error: unknown option --force',
    );
    expect(expectError(await admin(['menu']))).to.match(/interactive/);
    expectOk(await admin(['exit']));
  });

  it('runs a script from stdin when no command is given', async () => {
    const run = await admin(
      [],
      [
        '# make an account',
        'user add fay --password-stdin',
        'fay-pw',
        'user show fay --json',
        'bogus',
        'usage fay',
        '',
      ].join('\n'),
    );
    expect(run.code, 'a failed line fails the script').to.equal(1);
    expect(run.stdout).to.include("user 'fay' created");
    expect(run.stdout).to.include('"name": "fay"');
    expect(run.stdout).to.match(/^fay\s+0 B/m);
    expect(run.stderr).to.equal("error: line 5: unknown command 'bogus': type help for the list\n");
    expect(await canSftp(server.port, 'fay', 'fay-pw')).to.equal(true);
  });

  it('logs every action with who, what and the outcome, and never a password', async () => {
    await server.close();
    const lines = (await logLines(server)).filter((l) => l.event === 'admin.command');
    const added = lines.find((l) => l.command === 'user add' && l.target === 'bob');
    expect(added).to.include({ admin: 'admin', outcome: 'ok', quota_bytes: 1024 ** 3 });
    expect(added?.session).to.be.a('string');
    const refused = lines.find((l) => l.command === 'user add' && l.outcome === 'failed');
    expect(refused?.error).to.be.a('string');
    const deletions = lines.filter((l) => l.command === 'user del' && l.target === 'erin');
    expect(deletions.map((l) => l.outcome)).to.deep.equal(['failed', 'ok']);
    expect(deletions[1]).to.include({
      sessions_ended: 1,
    });
    const everything = JSON.stringify(await logLines(server));
    for (const password of ['secret', 'pw; rm', 'n3w pass', 'adm1n', 'erinpw', 'fay-pw']) {
      expect(everything, password).to.not.include(password);
    }
  });
});

describe('admin console: quota and account changes reach open sessions', function () {
  let server: TestServer;
  const admin = (argv: string[], input = ''): Promise<ClientRun> =>
    sshExec(server.port, ADMIN, argv, input);

  before(async function () {
    if (!(await haveOpenSsh())) this.skip();
    server = await startTestServer();
  });

  after(async () => {
    await server?.stop();
  });

  it('a lowered quota stops a session that is writing; it can still read and delete', async () => {
    expectOk(await admin(['user', 'add', 'quinn', '--quota', '1M', '--password-stdin'], 'qpw\n'));
    const client = await connectClient(server.port, { user: 'quinn', password: 'qpw' });
    try {
      const sftp = await openSftp(client);
      const chunk = Buffer.alloc(256 * KiB, 7);
      const handle = await call<Buffer>((cb) => sftp.open('/big.bin', 'w', cb));
      await call((cb) => sftp.write(handle, chunk, 0, chunk.length, 0, cb));

      const out = expectOk(await admin(['quota', 'quinn', '100K']));
      expect(out).to.match(/over the quota: they can read and delete, but not upload more/);
      const err = await expectFailure(
        call((cb) => sftp.write(handle, chunk, 0, chunk.length, chunk.length, cb)),
        Status.FAILURE,
      );
      expect(err.message).to.match(/quota exceeded/);
      await call((cb) => sftp.close(handle, cb));

      const reader = await call<Buffer>((cb) => sftp.open('/big.bin', 'r', cb));
      const back = Buffer.alloc(1024);
      await new Promise<void>((resolve, reject) =>
        sftp.read(reader, back, 0, back.length, 0, (err) => (err ? reject(err) : resolve())),
      );
      expect(back.equals(chunk.subarray(0, 1024))).to.equal(true);
      await call((cb) => sftp.close(reader, cb));
      await call((cb) => sftp.unlink('/big.bin', cb));

      // Under the quota again, the same session may write.
      const small = await call<Buffer>((cb) => sftp.open('/small.bin', 'w', cb));
      await call((cb) => sftp.write(small, chunk, 0, 10 * KiB, 0, cb));
      await call((cb) => sftp.close(small, cb));
    } finally {
      await endClient(client);
    }
  });

  it('disabling a user ends their sessions', async () => {
    const client = await connectClient(server.port, { user: 'quinn', password: 'qpw' });
    const closed = closedOf(client);
    expect(expectOk(await admin(['user', 'disable', 'quinn']))).to.match(/1 session ended/);
    await closed;
  });
});

/** An interactive console through a pty: output collected, waits on text, never on time. */
class Terminal {
  private raw = '';
  private readonly waiters: (() => void)[] = [];
  private closed = false;
  exitCode: number | undefined;

  constructor(private readonly channel: ClientChannel) {
    channel.on('data', (d: Buffer) => this.append(d));
    channel.stderr.on('data', (d: Buffer) => this.append(d));
    channel.on('exit', (code: number) => {
      this.exitCode = code;
    });
    channel.on('close', () => {
      this.closed = true;
      this.poke();
    });
  }

  /** What the terminal shows, without cursor movements and colours. */
  get text(): string {
    // eslint-disable-next-line no-control-regex
    return this.raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  }

  /** Where the output stands now, for waits on what comes after. */
  mark(): number {
    return this.text.length;
  }

  type(keys: string): void {
    this.channel.write(keys);
  }

  resize(rows: number, cols: number): void {
    this.channel.setWindow(rows, cols, 0, 0);
  }

  /** Resolves with the output after `from` once it matches. */
  async waitFor(pattern: RegExp | string, from: number): Promise<string> {
    for (;;) {
      const seen = this.text.slice(from);
      if (typeof pattern === 'string' ? seen.includes(pattern) : pattern.test(seen)) return seen;
      if (this.closed) throw new Error(`closed before ${String(pattern)} appeared: ${seen}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Types a line and waits for `expected`, then for the next prompt. */
  async command(line: string, expected: RegExp | string): Promise<string> {
    const from = this.mark();
    this.type(`${line}\r`);
    await this.waitFor(expected, from);
    return this.waitFor(/[\s\S]*\nminiftp> $/, from);
  }

  async whenClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private append(d: Buffer): void {
    this.raw += d.toString('utf8');
    this.poke();
  }

  private poke(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

function openShell(client: Client): Promise<Terminal> {
  return new Promise((resolve, reject) =>
    client.shell({ term: 'xterm', rows: 24, cols: 80 }, (err, channel) =>
      err ? reject(err) : resolve(new Terminal(channel)),
    ),
  );
}

describe('admin console: interactive through a pty', function () {
  let server: TestServer;
  let client: Client;
  let term: Terminal;

  before(async () => {
    server = await startTestServer();
    client = await connectClient(server.port, ADMIN);
    term = await openShell(client);
    await term.waitFor(/Type help[\s\S]*miniftp> $/, 0);
  });

  after(async () => {
    if (client) await endClient(client);
    await server?.stop();
  });

  it('edits the line: a backspaced typo is not what runs', async () => {
    const out = await term.command('user lisx\x7ft', 'LAST LOGIN');
    expect(out).to.match(/^NAME\s+QUOTA\s+USED\s+FILES\s+STATE\s+LAST LOGIN\r$/m);
    expect(out).to.not.include('error');
  });

  it('asks for a password twice without echoing it', async () => {
    const from = term.mark();
    term.type('user add frank --quota 10M\r');
    await term.waitFor('New password for frank: ', from);
    term.type('hunter22\r');
    await term.waitFor('Retype the password: ', from);
    term.type('hunter22\r');
    const out = await term.waitFor(/user 'frank' created, quota 10 MiB\r\n[\s\S]*miniftp> $/, from);
    expect(out).to.not.include('hunter22');
    const frank = await connectClient(server.port, { user: 'frank', password: 'hunter22' });
    await endClient(frank);
  });

  it('recalls the previous command with the up arrow, but never a password', async () => {
    let from = term.mark();
    term.type('\x1b[A');
    await term.waitFor('miniftp> user add frank --quota 10M', from);
    // Ctrl-C drops the recalled line: what follows runs on its own.
    term.type('\x03');
    await term.waitFor(/\^C\r\n[\s\S]*miniftp> $/, from);
    const out = await term.command('sessions', 'AUTH');
    expect(out).to.not.include('error');

    from = term.mark();
    term.type('\x1b[A\r');
    await term.waitFor(/ID\s+USER\s+FROM[\s\S]*miniftp> $/, from);
    expect(term.text).to.not.include('hunter22');
  });

  it('completes command names with tab', async () => {
    const from = term.mark();
    term.type('quo\t');
    await term.waitFor('quota ', from);
    term.type('frank\r');
    await term.waitFor(/quota of 'frank': 10 MiB[\s\S]*miniftp> $/, from);
  });

  it('cancels a password prompt with Ctrl-C and changes nothing', async () => {
    const before = (await server.store.users.get('frank'))?.passwordHash;
    const from = term.mark();
    term.type('passwd frank\r');
    await term.waitFor('New password for frank: ', from);
    term.type('half-typed\x03');
    await term.waitFor(/error: cancelled\r\n[\s\S]*miniftp> $/, from);
    expect(term.text).to.not.include('half-typed');
    expect((await server.store.users.get('frank'))?.passwordHash).to.equal(before);
  });

  it('never echoes a password pasted with its command, before the prompt for it', async () => {
    const from = term.mark();
    term.type('user add pasted --quota 1G\rPastedSecret9\rPastedSecret9\r');
    const out = await term.waitFor(/user 'pasted' created, quota 1 GiB\r\n[\s\S]*miniftp> $/, from);
    expect(out).to.include('New password for pasted: ');
    expect(out).to.include('Retype the password: ');
    expect(term.text).to.not.include('PastedSecret9');
    const pasted = await connectClient(server.port, { user: 'pasted', password: 'PastedSecret9' });
    await endClient(pasted);
  });

  it('asks before deleting, and offers the numbered menu', async () => {
    let from = term.mark();
    term.type('user del frank\r');
    await term.waitFor("Delete user 'frank' (files are kept)? [y/N] ", from);
    term.type('n\r');
    await term.waitFor(/nothing deleted[\s\S]*miniftp> $/, from);
    expect(await server.store.users.get('frank')).to.not.equal(undefined);

    from = term.mark();
    term.type('menu\r');
    await term.waitFor('choice [1-5]: ', from);
    term.type('4\r');
    await term.waitFor('user name: ', from);
    term.type('frank\r');
    await term.waitFor('new quota', from);
    term.type('20M\r');
    await term.waitFor(/quota of 'frank': 20 MiB[\s\S]*choice \[1-5\]: $/, from);
    term.type('5\r');
    await term.waitFor(/miniftp> $/, from);
    expect((await server.store.users.get('frank'))?.quotaBytes).to.equal(20 * 1024 * 1024);
  });

  it('keeps working after the terminal is resized', async () => {
    term.resize(30, 40);
    const out = await term.command('help quota', 'usage: quota NAME');
    expect(out).to.not.include('error');
  });

  it('leaves with Ctrl-D and exit status 0', async () => {
    term.type('\x04');
    await term.whenClosed();
    expect(term.exitCode).to.equal(0);
  });
});

describe('admin console: at a terminal, what it warns of and how it draws', function () {
  let server: TestServer;

  let stopped = false;

  beforeEach(async () => {
    server = await startTestServer();
    stopped = false;
  });

  afterEach(async () => {
    if (!stopped) await server?.stop();
  });

  it('warns at every login while the admin password is the first-start one', async () => {
    const client = await connectClient(server.port, ADMIN);
    const term = await openShell(client);
    const banner = await term.waitFor(/Type help[\s\S]*miniftp> $/, 0);
    expect(banner).to.match(/warning: the admin password is still the first-start one/);
    await endClient(client);
    expectOk(await sshExec(server.port, ADMIN, ['passwd', '--password-stdin'], 'n3w-admin\n'));
    const again = await connectClient(server.port, { user: 'admin', password: 'n3w-admin' });
    const second = await openShell(again);
    const quiet = await second.waitFor(/Type help[\s\S]*miniftp> $/, 0);
    expect(quiet).to.not.include('warning');
    await endClient(again);
  });

  it('fits sessions to an 80-column terminal, cutting the client software first', async () => {
    const long = `VeryLongClientSoftware_${'x'.repeat(80)}`;
    const zs = await connectClient(server.port, { user: 'zhangsan', password: '123', ident: long });
    const client = await connectClient(server.port, ADMIN);
    const term = await openShell(client);
    await term.waitFor(/miniftp> $/, 0);
    const out = await term.command('sessions', 'AUTH');
    const rows = out.split('\r\n').filter((l) => /^\d{4}\s/.test(l) || l.startsWith('ID'));
    expect(rows.length, out).to.be.at.least(3);
    for (const row of rows) expect([...row].length, row).to.be.at.most(80);
    expect(out).to.include('VeryLongClie');
    expect(out).to.include('…');
    expect(out).to.include('zhangsan');
    // Without a terminal nothing is cut: scripts get the whole text.
    expect(expectOk(await sshExec(server.port, ADMIN, ['sessions']))).to.include(long);
    await endClient(zs);
    await endClient(client);
  });

  it('starts each line of the goodbye at the left margin when the server stops', async () => {
    const client = await connectClient(server.port, ADMIN);
    const term = await openShell(client);
    await term.waitFor(/miniftp> $/, 0);
    const from = term.mark();
    const stopping = server.stop();
    stopped = true;
    const said = await term.waitFor(/miniftp: disconnected: [^\n]*\n/, from);
    expect(said).to.match(/miniftp: disconnected: [^\r\n]+\r\n/);
    await stopping;
    await term.whenClosed();
  });
});

describe('admin console: who may reach it', function () {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });

  after(async () => {
    await server?.stop();
  });

  function runChannel(
    open: (cb: (err: Error | undefined, ch: ClientChannel) => void) => void,
  ): Promise<{ code: number | undefined; output: string }> {
    return new Promise((resolve, reject) =>
      open((err, channel) => {
        if (err) {
          reject(err);
          return;
        }
        let output = '';
        let code: number | undefined;
        channel.on('data', (d: Buffer) => (output += d.toString()));
        channel.stderr.on('data', (d: Buffer) => (output += d.toString()));
        channel.on('exit', (c: number) => (code = c));
        channel.on('close', () => resolve({ code, output }));
      }),
    );
  }

  it('refuses an ordinary user a shell or an admin command', async () => {
    const client = await connectClient(server.port, { user: 'zhangsan', password: '123' });
    try {
      const shell = await runChannel((cb) => client.shell({ term: 'xterm' }, cb));
      expect(shell.code).to.not.equal(0);
      expect(shell.output).to.match(/file transfer only/);
      expect(shell.output).to.not.include('miniftp>');
      const exec = await runChannel((cb) => client.exec('user add mallory --generate', cb));
      expect(exec.code).to.not.equal(0);
      expect(exec.output).to.match(/file transfer only/);
      expect(await server.store.users.get('mallory')).to.equal(undefined);
    } finally {
      await endClient(client);
    }
  });

  it('refuses the admin account the SFTP subsystem', async () => {
    const client = await connectClient(server.port, ADMIN);
    try {
      let refused: unknown;
      await openSftp(client).catch((err: unknown) => {
        refused = err;
      });
      expect(refused).to.be.instanceOf(Error);
    } finally {
      await endClient(client);
    }
  });
});
