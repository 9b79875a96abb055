/**
 * The terminal client's batch mode (`miniftp -b -`) against a real server:
 * every command, the wrong-command hint, stopping at the first failure, the
 * known-hosts check, and resume end to end after the client is killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { sha256File, writeRandomFile } from '../helpers/files';
import { waitUntil } from '../helpers/probe';
import { startTestServer, type TestServer } from '../helpers/server';

const BIN = path.resolve(__dirname, '../../../bin/miniftp.js');
const MiB = 1024 * 1024;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('client batch mode', function () {
  let server: TestServer;
  let work: string;
  let local: string;
  let home: string;

  const spawnClient = (args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess =>
    spawn(process.execPath, [BIN, ...args, `zhangsan@127.0.0.1:${server.port}`], {
      cwd: local,
      env: { PATH: process.env.PATH, HOME: home, MINIFTP_PASSWORD: '123', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });

  const collect = (child: ChildProcess): Promise<Run> =>
    new Promise((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  /** Runs one batch script from stdin. */
  const batch = (
    commands: string[],
    args: string[] = ['--accept-new-host-key'],
    env?: NodeJS.ProcessEnv,
  ): Promise<Run> => {
    const child = spawnClient(['-b', '-', ...args], env);
    const done = collect(child);
    child.stdin?.end(`${commands.join('\n')}\n`);
    return done;
  };

  const remote = (p: string): string => path.join(server.home('zhangsan'), p);
  const exists = (p: string): Promise<boolean> =>
    fsp.stat(p).then(
      () => true,
      () => false,
    );

  before(async () => {
    server = await startTestServer();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-client-batch-'));
    local = path.join(work, 'local');
    home = path.join(work, 'home');
    await fsp.mkdir(local);
    await fsp.mkdir(home);
  });

  after(async () => {
    await server.stop();
    await fsp.rm(work, { recursive: true, force: true });
  });

  it('records a new host key with --accept-new-host-key, and refuses one it does not know', async () => {
    const other = path.join(work, 'other_known_hosts');
    const refused = await batch(['pwd'], ['--known-hosts', other]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include('--accept-new-host-key');
    expect(await exists(other)).to.equal(false);

    const first = await batch(['pwd'], ['--known-hosts', other, '--accept-new-host-key']);
    expect(first.code, first.stderr).to.equal(0);
    expect(await fsp.readFile(other, 'utf8')).to.match(
      new RegExp(`^127\\.0\\.0\\.1:${server.port} ssh-ed25519 \\S+\\n$`),
    );
    // Known now: no flag needed.
    const again = await batch(['pwd'], ['--known-hosts', other]);
    expect(again.code, again.stderr).to.equal(0);
  });

  it('refuses a changed host key', async () => {
    const file = path.join(work, 'changed_known_hosts');
    const fake = randomBytes(51).toString('base64');
    await fsp.writeFile(file, `127.0.0.1:${server.port} ssh-ed25519 ${fake}\n`);
    const r = await batch(['pwd'], ['--known-hosts', file, '--accept-new-host-key']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('HAS CHANGED').and.include('line 1');
  });

  it('reports a wrong password', async () => {
    const r = await batch(['pwd'], ['--accept-new-host-key'], { MINIFTP_PASSWORD: 'wrong' });
    expect(r.code).to.equal(1);
    // One try only (nobody to ask again), and the message says where the password came from.
    expect(r.stderr).to.include(
      'miniftp: authentication failed: wrong user name or password ' +
        '(the password came from MINIFTP_PASSWORD)\n',
    );
    expect(r.stderr).not.to.include('tries');
  });

  it('runs put, ls, mkdir, cd, cd .., pwd, rename and rm', async () => {
    await fsp.writeFile(path.join(local, 'a.txt'), 'alpha\n');
    await writeRandomFile(path.join(local, 'b.bin'), 3 * MiB + 7);
    const r = await batch([
      'put a.txt',
      'put b.bin',
      'mkdir docs',
      'cd docs',
      'pwd',
      'put a.txt inner.txt',
      'ls',
      'cd ..',
      'pwd',
      'ls',
      'rename a.txt renamed.txt',
      'mkdir gone',
      'put a.txt gone',
      'rm gone',
      'mkdir empty',
      'rm empty',
      'bye',
      'mkdir never',
    ]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.not.include('failed');
    expect(await sha256File(remote('b.bin'))).to.equal(await sha256File(path.join(local, 'b.bin')));
    expect(await fsp.readFile(remote('docs/inner.txt'), 'utf8')).to.equal('alpha\n');
    expect(await fsp.readFile(remote('renamed.txt'), 'utf8')).to.equal('alpha\n');
    expect(await exists(remote('a.txt'))).to.equal(false);
    expect(await exists(remote('gone'))).to.equal(false);
    expect(await exists(remote('empty'))).to.equal(false);
    // bye ends the script.
    expect(await exists(remote('never'))).to.equal(false);

    expect(r.stdout).to.include('miniftp> put b.bin');
    expect(r.stdout).to.match(/put b\.bin: 100% 3\.00? MiB\/3\.00? MiB \S+ \S*B\/s/);
    expect(r.stdout).to.match(/put b\.bin: done, sent 3145735 bytes .*MD5 verified [0-9a-f]{32}/);
    expect(r.stdout).to.include('remote folder: /docs');
    expect(r.stdout).to.match(/remote folder: \/\n/);
    expect(r.stdout).to.match(/ inner\.txt\n/);
    expect(r.stdout).to.match(/<dir> .* docs\/\n/);
    expect(r.stdout).to.include('renamed a.txt to /renamed.txt');
    expect(r.stdout).to.include('deleted gone');
  });

  it('stops with status 2 before logging in when the batch file cannot be read', async () => {
    const r = await collect(spawnClient(['-b', path.join(work, 'no-such-script.txt')]));
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal(
      `miniftp: cannot read the batch file ${path.join(work, 'no-such-script.txt')}: no such file\n`,
    );
    const folder = await collect(spawnClient(['-b', work]));
    expect(folder.code).to.equal(2);
    expect(folder.stderr).to.equal(`miniftp: cannot read the batch file ${work}: it is a folder\n`);
  });

  it('refuses to rm the home folder or the current folder before deleting anything', async () => {
    await fsp.writeFile(path.join(local, 'keep.txt'), 'keep\n');
    await fsp.symlink('guarded', remote('guarded-link'));
    const r = await batch([
      'mkdir guarded',
      'put keep.txt guarded/keep.txt',
      'mkdir guarded/sub',
      'put keep.txt guarded/sub/keep.txt',
      'cd guarded/sub',
      '-rm ..',
      '-rm .',
      "-rm ''",
      '-rm /',
      '-rm ~',
      // Reached through a symlink, the current folder is still where it really is.
      'cd /guarded-link/sub',
      '-rm /guarded',
      'cd /',
      'rm guarded/sub',
    ]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.include(
      'rm ..: refusing to delete ..: it is or holds the current remote folder (cd elsewhere first)',
    );
    expect(r.stderr).to.include('rm .: refusing to delete .: it is or holds the current remote');
    expect(r.stderr).to.include('refusing to delete "": it is or holds the current remote folder');
    expect(r.stderr).to.include('refusing to delete /: it is or holds your remote home folder');
    expect(r.stderr).to.include('refusing to delete ~: it is or holds your remote home folder');
    expect(r.stderr).to.include(
      'rm /guarded: refusing to delete /guarded: it is or holds the current remote folder',
    );
    expect(await fsp.readFile(remote('guarded/keep.txt'), 'utf8')).to.equal('keep\n');
    // Once the session has left it, the folder can go.
    expect(await exists(remote('guarded/sub'))).to.equal(false);
  });

  it('runs get to the local folder and to a target folder, lcd, lls and lpwd', async () => {
    await fsp.writeFile(remote('fetch.txt'), 'fetched\n');
    await fsp.mkdir(path.join(local, 'into'), { recursive: true });
    const r = await batch([
      'lpwd',
      'get fetch.txt',
      'get fetch.txt into',
      'get fetch.txt into/named.txt',
      'lcd into',
      'lpwd',
      'lls',
      'lcd ..',
      'lls',
    ]);
    expect(r.code, r.stderr).to.equal(0);
    expect(await fsp.readFile(path.join(local, 'fetch.txt'), 'utf8')).to.equal('fetched\n');
    expect(await fsp.readFile(path.join(local, 'into', 'fetch.txt'), 'utf8')).to.equal('fetched\n');
    expect(await fsp.readFile(path.join(local, 'into', 'named.txt'), 'utf8')).to.equal('fetched\n');
    expect(r.stdout).to.include(`local folder: ${local}\n`);
    expect(r.stdout).to.include(`local folder: ${path.join(local, 'into')}\n`);
    expect(r.stdout).to.match(/get fetch\.txt: done, received 8 bytes/);
    expect(r.stdout).to.match(/ named\.txt\n/);
    expect(r.stdout).to.match(/<dir> .* into\/\n/);
  });

  it('prints help, and for a wrong command the hint and the list, then stops with status 1', async () => {
    const r = await batch(['help', 'pur a.txt', 'mkdir after-the-error']);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.match(/^put \[-f\] FILE \[TARGET\] +upload/m);
    expect(r.stderr).to.include("unknown command 'pur' — did you mean 'put'?");
    for (const usage of ['get [-f] FILE [TARGET]', 'rename OLD NEW', 'lcd [DIR]', 'bye']) {
      expect(r.stderr).to.include(usage);
    }
    expect(await exists(remote('after-the-error'))).to.equal(false);
  });

  it('stops at the first failing command, unless the line starts with -', async () => {
    const r = await batch([
      '-get missing.bin',
      'mkdir kept',
      'cd missing-folder',
      'mkdir not-made',
    ]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('get missing.bin: no such file or folder on the server');
    expect(r.stderr).to.include('cd missing-folder: no such file or folder on the server');
    expect(await exists(remote('kept'))).to.equal(true);
    expect(await exists(remote('not-made'))).to.equal(false);
  });

  it("shows the server's message for a quota or permission error", async () => {
    const original = (await server.store.users.get('zhangsan'))?.quotaBytes ?? 0;
    const setQuota = async (bytes: number): Promise<void> => {
      await server.store.users.setQuota('zhangsan', bytes);
      await server.quota.refreshLimits('zhangsan');
    };
    await writeRandomFile(path.join(local, 'too-big.bin'), 2 * MiB);
    await setQuota((await server.quota.get('zhangsan')).bytes + MiB);
    try {
      const r = await batch(['put too-big.bin', 'mkdir not-reached']);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/put too-big\.bin: failed: quota exceeded\b.*\d/);
      expect(await exists(remote('not-reached'))).to.equal(false);
    } finally {
      await setQuota(original);
    }
    // A link out of the jail: the server refuses, in its own words, naming no real path.
    await fsp.symlink('/etc', remote('escape'));
    const denied = await batch(['ls escape']);
    expect(denied.code).to.equal(1);
    expect(denied.stderr).to.match(/^ls escape: Permission denied/m);
    expect(denied.stderr).to.not.include(server.dataDir);
    expect(denied.stdout).to.not.include('passwd');
    await fsp.unlink(remote('escape'));
  });

  describe('resume', () => {
    const SIZE = 24 * MiB + 4321;
    let source: string;

    before(async () => {
      source = path.join(local, 'big.bin');
      await writeRandomFile(source, SIZE);
    });

    /**
     * Starts `put NAME` at 64 Mbit/s (so it takes a few seconds), kills the
     * client once a progress line shows at least 30%, and waits until the
     * server has noticed. Returns the size of the partial file.
     */
    const putAndKill = async (file: string): Promise<number> => {
      const child = spawnClient(['-b', '-', '-l', '64000', '--accept-new-host-key']);
      const done = collect(child);
      child.stdin?.end(`put ${file}\n`);
      let seen = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', (d: Buffer) => {
          seen += d.toString();
          const m = /: (\d+)% /.exec(seen.split('\n').slice(-2).join('\n'));
          if (m && Number(m[1]) >= 30 && Number(m[1]) < 100) {
            child.kill('SIGKILL');
            resolve();
          }
        });
        child.on('close', () => reject(new Error(`the client ended first:\n${seen}`)));
      });
      const r = await done;
      expect(r.code).to.equal(null);
      await waitUntil(
        'the server to see the client go',
        () => server.connections.list().length === 0,
        10_000,
      );
      const partial = (await fsp.stat(remote(path.basename(file)))).size;
      expect(partial).to.be.greaterThan(0).and.lessThan(SIZE);
      return partial;
    };

    it('refuses to resume a changed file, then resumes the original and sends only the rest', async () => {
      const partial = await putAndKill('big.bin');
      const before = await sha256File(remote('big.bin'));

      const changed = path.join(work, 'changed');
      await fsp.mkdir(changed, { recursive: true });
      await fsp.copyFile(source, path.join(changed, 'big.bin'));
      const fh = await fsp.open(path.join(changed, 'big.bin'), 'r+');
      await fh.write(Buffer.from('not the same start'), 0, 18, 0);
      await fh.close();
      const refused = await batch([`lcd ${changed}`, 'put big.bin', 'mkdir not-reached']);
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.match(
        /put big\.bin: resume refused: the first \d+ bytes on the server differ from your file/,
      );
      expect(refused.stderr).to.include("use 'put -f' to start over");
      expect(await sha256File(remote('big.bin'))).to.equal(before);
      expect(await exists(remote('not-reached'))).to.equal(false);

      const r = await batch(['put big.bin']);
      expect(r.code, r.stderr).to.equal(0);
      const resumed = /resuming from (\d+) bytes/.exec(r.stdout);
      expect(resumed, r.stdout).to.not.equal(null);
      const from = Number(resumed?.[1]);
      expect(from).to.equal(partial);
      const sent = /done, sent (\d+) bytes .*resumed from (\d+)/.exec(r.stdout);
      expect(Number(sent?.[1])).to.equal(SIZE - from);
      expect(Number(sent?.[2])).to.equal(from);
      expect(await sha256File(remote('big.bin'))).to.equal(await sha256File(source));
    });

    it('starts over after a refused resume with put -f', async () => {
      await fsp.copyFile(source, path.join(local, 'forced.bin'));
      await putAndKill('forced.bin');
      const fh = await fsp.open(path.join(local, 'forced.bin'), 'r+');
      await fh.write(Buffer.from('changed'), 0, 7, 0);
      await fh.close();
      const r = await batch(['put -f forced.bin']);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/resume refused: .*; starting over \(-f\)/);
      expect(r.stdout).to.include(`done, sent ${SIZE} bytes`);
      expect(await sha256File(remote('forced.bin'))).to.equal(
        await sha256File(path.join(local, 'forced.bin')),
      );
    });
  });
});
