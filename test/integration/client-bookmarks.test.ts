/**
 * Saved hosts: the bookmark command writes hosts.json (under XDG_CONFIG_HOME,
 * mode 0600), `miniftp NAME` connects by it, and the file round-trips.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { Bookmarks, bookmarksFile, describeBookmarks } from '../../src/client/bookmarks';
import { applyBookmark, parseCliArgs } from '../../src/client/main/cli';
import { runBatch, type ClientOutcome } from '../helpers/client-process';
import { startTestServer, type TestServer } from '../helpers/server';

type Run = ClientOutcome;

describe('client bookmarks', function () {
  this.timeout(30_000);
  let server: TestServer;
  let work: string;
  let home: string;
  let config: string;

  const run = (dest: string, commands: string[]): Promise<Run> =>
    runBatch(['--accept-new-host-key', dest], commands, {
      cwd: work,
      env: { HOME: home, XDG_CONFIG_HOME: config },
    });

  before(async () => {
    server = await startTestServer();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-client-bookmarks-'));
    home = path.join(work, 'home');
    config = path.join(work, 'xdg');
    await fsp.mkdir(home);
  });

  after(async () => {
    await server.stop();
    await fsp.rm(work, { recursive: true, force: true });
  });

  it('saves the current connection, lists it, connects by name, and deletes it', async () => {
    const saved = await run(`zhangsan@127.0.0.1:${server.port}`, [
      'bookmark add here',
      'bookmark add other ana@files.example.org:2222 id_test',
      'bookmark list',
    ]);
    expect(saved.code, saved.stderr).to.equal(0);
    const file = path.join(config, 'miniftp', 'hosts.json');
    expect(saved.stdout).to.include(`saved the bookmark here  zhangsan@127.0.0.1:${server.port}`);
    expect(saved.stdout).to.include(
      `other  ana@files.example.org:2222  key ${path.join(work, 'id_test')}`,
    );
    expect((await fsp.stat(file)).mode & 0o777).to.equal(0o600);
    expect((await fsp.stat(path.dirname(file))).mode & 0o777).to.equal(0o700);
    expect(JSON.parse(await fsp.readFile(file, 'utf8'))).to.deep.equal({
      hosts: {
        here: { host: '127.0.0.1', port: server.port, user: 'zhangsan' },
        other: {
          host: 'files.example.org',
          port: 2222,
          user: 'ana',
          identity: path.join(work, 'id_test'),
        },
      },
    });

    const byName = await run('here', [
      'pwd',
      'bookmark del other',
      'bookmark list',
      '-bookmark del nope',
    ]);
    expect(byName.code, byName.stderr).to.equal(0);
    expect(byName.stdout).to.include('remote folder: /');
    expect(byName.stdout).to.include('deleted the bookmark other');
    expect(byName.stderr).to.include('no bookmark named nope');
    expect(Object.keys(JSON.parse(await fsp.readFile(file, 'utf8')).hosts)).to.deep.equal(['here']);
  });

  it('open connects to another server, by bookmark or by [user@]host:port', async () => {
    const other = await startTestServer();
    try {
      await fsp.writeFile(path.join(work, 'hello.txt'), 'hello\n');
      const r = await run(`zhangsan@127.0.0.1:${server.port}`, [
        `bookmark add two zhangsan@127.0.0.1:${other.port}`,
        'open two',
        'put hello.txt',
        `open zhangsan@127.0.0.1:${server.port}`,
        'ls',
        '-open 127.0.0.1:1',
        'pwd',
      ]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.include(`connected to zhangsan@127.0.0.1:${other.port}`);
      expect(await fsp.readFile(path.join(other.home('zhangsan'), 'hello.txt'), 'utf8')).to.equal(
        'hello\n',
      );
      // Back on the first server, which never got the file.
      expect(r.stdout).to.include(`connected to zhangsan@127.0.0.1:${server.port}`);
      expect(r.stdout).to.include('miniftp> ls\n(empty folder)');
      expect(r.stderr).to.match(/open 127\.0\.0\.1:1: cannot connect/);
      expect(r.stdout).to.include('remote folder: /');
    } finally {
      await other.stop();
    }
  });

  it('round-trips the file, refuses bad names and broken files, and -p wins over it', async () => {
    const file = bookmarksFile({ XDG_CONFIG_HOME: path.join(work, 'rt'), HOME: home });
    expect(file).to.equal(path.join(work, 'rt', 'miniftp', 'hosts.json'));
    expect(bookmarksFile({ HOME: home })).to.equal(
      path.join(home, '.config', 'miniftp', 'hosts.json'),
    );
    const b = new Bookmarks(file);
    expect((await b.load()).size).to.equal(0);
    await b.add('a', { host: 'h', port: 22, user: 'u' });
    await b.add('b.2', { host: 'k', port: 2022, user: 'v', identity: '/k' });
    expect([...(await new Bookmarks(file).load())]).to.deep.equal([
      ['a', { host: 'h', port: 22, user: 'u' }],
      ['b.2', { host: 'k', port: 2022, user: 'v', identity: '/k' }],
    ]);
    let err: unknown;
    await b.add('u@h', { host: 'h', port: 22, user: 'u' }).catch((e: unknown) => (err = e));
    expect(String(err)).to.include('bad bookmark name u@h');

    const args = await applyBookmark(parseCliArgs(['-p', '2200', 'b.2'], { USER: 'x' }), b);
    expect([args.user, args.host, args.port, args.identity]).to.deep.equal(['v', 'k', 2200, '/k']);
    const plain = await applyBookmark(parseCliArgs(['u@b.2'], { USER: 'x' }), b);
    expect([plain.user, plain.host, plain.port]).to.deep.equal(['u', 'b.2', 8808]);

    await fsp.writeFile(file, '{"hosts": {"x": {"host": "h"}}}');
    err = undefined;
    await b.load().catch((e: unknown) => (err = e));
    expect(String(err)).to.include('the bookmark x');
    // A broken file is a clear error before anything connects.
    await fsp.writeFile(path.join(config, 'miniftp', 'hosts.json'), 'not json');
    const broken = await run('here', ['pwd']);
    expect(broken.code).to.equal(2);
    expect(broken.stderr).to.include('hosts.json is not JSON');
  });

  it('keeps a parallel setting: the bookmark gives it unless --parallel does; a bad one is refused', async () => {
    const file = path.join(work, 'par', 'hosts.json');
    const b = new Bookmarks(file);
    await b.add('two', { host: 'h', port: 22, user: 'u', parallel: 2 });
    await b.add('many', { host: 'h', port: 22, user: 'u', parallel: 99 });
    await b.add('one', { host: 'h', port: 22, user: 'u' });
    expect((await b.get('two'))?.parallel).to.equal(2);
    expect(
      describeBookmarks(new Map([['two', { host: 'h', port: 22, user: 'u', parallel: 2 }]])),
    ).to.equal('two  u@h:22  parallel 2');
    const from = async (argv: string[]): Promise<number | undefined> =>
      (await applyBookmark(parseCliArgs(argv, { USER: 'x' }), b)).parallel;
    expect(await from(['two'])).to.equal(2);
    expect(await from(['--parallel', '3', 'two'])).to.equal(3);
    expect(await from(['one'])).to.equal(undefined);
    // More than --parallel allows is brought down to its bound.
    expect(await from(['many'])).to.equal(16);
    await fsp.writeFile(
      file,
      '{"hosts": {"x": {"host": "h", "port": 22, "user": "u", "parallel": 0}}}',
    );
    let err: unknown;
    await b.load().catch((e: unknown) => (err = e));
    expect(String(err)).to.include('the bookmark x');
  });
});
