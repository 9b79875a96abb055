import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { createLogger, type CreateLoggerOptions } from '../../src/log/logger';

describe('logger', () => {
  let root: string;
  let dir: string;
  let clock: Date;
  let stdout: string[];
  let stderr: string[];

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'miniftp-log-'));
  });

  after(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  beforeEach(function () {
    dir = path.join(root, this.currentTest?.title.replace(/\W+/g, '-') ?? 'x', 'log');
    clock = new Date(2026, 10, 25, 19, 45, 55);
    stdout = [];
    stderr = [];
  });

  function make(overrides: Partial<CreateLoggerOptions> = {}) {
    return createLogger({
      dir,
      level: 'info',
      stdout: false,
      now: () => clock,
      stdoutStream: { write: (text: string) => stdout.push(text) },
      stderrStream: { write: (text: string) => stderr.push(text) },
      ...overrides,
    });
  }

  function readLines(file: string): Array<Record<string, unknown>> {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    expect(text.endsWith('\n')).to.equal(true);
    return text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  it('appends one JSON line per call to the local date’s file', async () => {
    const log = make();
    log.info('login.ok', { user: 'zhangsan', ip: '127.0.0.1', bytes: 5, ok: true, none: null });
    log.warn('login.failed', { user: 'bob', reason: undefined });
    await log.close();

    const lines = readLines('2026-11-25.log');
    expect(lines).to.deep.equal([
      {
        time: clock.toISOString(),
        level: 'info',
        event: 'login.ok',
        user: 'zhangsan',
        ip: '127.0.0.1',
        bytes: 5,
        ok: true,
        none: null,
      },
      { time: clock.toISOString(), level: 'warn', event: 'login.failed', user: 'bob' },
    ]);
    expect(Object.keys(lines[0] ?? {}).slice(0, 3)).to.deep.equal(['time', 'level', 'event']);
  });

  it('creates the directory with mode 0700 and appends to an existing file', async () => {
    const first = make();
    first.info('one');
    await first.close();
    const second = make();
    second.info('two');
    await second.close();

    expect(fs.statSync(dir).mode & 0o777).to.equal(0o700);
    expect(readLines('2026-11-25.log').map((line) => line.event)).to.deep.equal(['one', 'two']);
  });

  it('drops lines below the configured level', async () => {
    const log = make({ level: 'warn', stdout: true });
    log.debug('a');
    log.info('b');
    log.warn('c');
    log.error('d');
    await log.close();
    expect(readLines('2026-11-25.log').map((line) => line.level)).to.deep.equal(['warn', 'error']);
    expect(stdout).to.have.length(2);
  });

  it('switches to a new file when the local date changes', async () => {
    const log = make();
    clock = new Date(2026, 10, 25, 23, 59, 59, 999);
    log.info('late');
    clock = new Date(2026, 10, 26, 0, 0, 0, 0);
    log.info('early');
    log.info('later');
    await log.close();

    expect(readLines('2026-11-25.log').map((line) => line.event)).to.deep.equal(['late']);
    expect(readLines('2026-11-26.log').map((line) => line.event)).to.deep.equal(['early', 'later']);
  });

  it('merges child fields, nearest first, into every line', async () => {
    const log = make();
    const session = log.child({ user: 'zhangsan', session: 7 });
    const request = session.child({ session: 8, path: '/a' });
    request.info('file.closed', { path: '/b', bytes: 10 });
    session.info('session.end');
    log.info('plain');
    await log.close();

    const [closed, ended, plain] = readLines('2026-11-25.log');
    expect(closed).to.include({ user: 'zhangsan', session: 8, path: '/b', bytes: 10 });
    expect(ended).to.include({ user: 'zhangsan', session: 7 });
    expect(plain).not.to.have.property('user');
  });

  it('redacts secret-looking keys and keeps time, level and event its own', async () => {
    const log = make({ stdout: true });
    log.child({ token: 'abc' }).info('x', {
      password: 'hunter2',
      newPassword: 'p',
      secret: 's',
      Passphrase: 'q',
      level: 'fake',
      event: 'fake',
    });
    await log.close();

    const [line] = readLines('2026-11-25.log');
    expect(line).to.deep.include({
      level: 'info',
      event: 'x',
      token: '[redacted]',
      password: '[redacted]',
      newPassword: '[redacted]',
      secret: '[redacted]',
      Passphrase: '[redacted]',
    });
    expect(JSON.stringify(line)).not.to.match(/hunter2|abc/);
    expect(stdout.join('')).not.to.include('hunter2');
  });

  it('prints readable lines on stdout only when asked, quoting values with spaces', async () => {
    const quiet = make();
    quiet.info('login.ok', { user: 'zhangsan' });
    await quiet.close();
    expect(stdout).to.deep.equal([]);

    const log = make({ stdout: true });
    log.info('login.ok', { user: 'zhangsan', ip: '127.0.0.1' });
    log.error('upload.failed', { path: '/my file', reason: '', size: 3, line: 'a\nb' });
    await log.close();
    expect(stdout).to.deep.equal([
      '2026-11-25 19:45:55 INFO  login.ok user=zhangsan ip=127.0.0.1\n',
      '2026-11-25 19:45:55 ERROR upload.failed path="/my file" reason="" size=3 line="a\\nb"\n',
    ]);
  });

  it('has every line on disk once close() resolves', async () => {
    const log = make();
    for (let i = 0; i < 5000; i += 1) log.info('tick', { i });
    await log.close();
    const lines = readLines('2026-11-25.log');
    expect(lines).to.have.length(5000);
    expect(lines[4999]).to.include({ i: 4999 });
  });

  it('never throws when the file cannot be written, and says so on stderr once', async () => {
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    fs.writeFileSync(dir, 'a file where the directory should be');
    const log = make({ stdout: true });
    expect(() => {
      log.info('a');
      log.error('b');
    }).not.to.throw();
    await log.close();
    expect(stderr).to.have.length(1);
    expect(stderr[0]).to.match(/^miniftp: cannot write log /);
    expect(stdout).to.have.length(2);
  });

  it('reports a stream error once, without throwing', async () => {
    fs.mkdirSync(dir, { recursive: true });
    // A directory where the day's file should be: the open fails asynchronously with EISDIR.
    fs.mkdirSync(path.join(dir, '2026-11-25.log'));
    const log = make();
    log.info('a');
    await new Promise((resolve) => setTimeout(resolve, 50));
    log.info('b');
    await log.close();
    expect(stderr).to.have.length(1);
    expect(stderr[0]).to.include('EISDIR');
  });
});
