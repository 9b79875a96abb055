/**
 * Third-party clients against a real server, each doing what its users do:
 * curl (libssh2), rclone (Go's pkg/sftp plus md5sum/sha1sum over exec), lftp
 * (its own SFTP code over OpenSSH's ssh), PuTTY's psftp (whose SFTP code
 * FileZilla's fzsftp shares and WinSCP descends from) and paramiko. Contents
 * are compared by SHA-256 every time. .ci/run installs the clients; a missing
 * one fails its describe with the package to install.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { keysDir, startTestServer, type TestServer } from '../helpers/server';
import { makeTree, sha256File, snapshotTree, writeRandomFile, fixture } from '../helpers/files';

const MiB = 1024 * 1024;
const USER = 'zhangsan';
const PASSWORD = '123';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a client to its end; one that hangs is killed, so mocha never waits on it. */
function run(
  cmd: string,
  args: string[],
  o: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<Run & { missing?: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: o.cwd,
      env: { ...process.env, LC_ALL: 'C', TZ: 'UTC', ...o.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${o.timeoutMs ?? 40000} ms)`;
      child.kill('SIGKILL');
    }, o.timeoutMs ?? 40000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: err.message, missing: err.code === 'ENOENT' });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.input ?? '');
  });
}

/** Fails the describe unless `cmd args` runs: the message names the apt package. */
async function requireClient(cmd: string, args: string[], aptPackage: string): Promise<Run> {
  const r = await run(cmd, args);
  if (r.missing || r.code !== 0) {
    throw new Error(
      `${cmd} is not usable (${r.stderr.trim() || `exit ${r.code}`}): apt-get install ${aptPackage}`,
    );
  }
  return r;
}

function expectOk(r: Run, what: string): void {
  expect(r.code, `${what} failed:\n${r.stderr}\n${r.stdout}`).to.equal(0);
}

/** The test server's host keys as known_hosts lines and SHA256 fingerprints. */
async function hostKeys(port: number): Promise<{ knownHosts: string; ed25519: string }> {
  const lines: string[] = [];
  let ed25519 = '';
  for (const file of ['ssh_host_ed25519_key.pub', 'ssh_host_rsa_key.pub']) {
    const [type, blob] = (await fsp.readFile(path.join(keysDir(), file), 'utf8')).split(' ');
    lines.push(`[127.0.0.1]:${port} ${type} ${blob}`);
    if (type === 'ssh-ed25519') {
      const digest = createHash('sha256').update(Buffer.from(blob as string, 'base64'));
      ed25519 = `SHA256:${digest.digest('base64').replace(/=+$/, '')}`;
    }
  }
  return { knownHosts: `${lines.join('\n')}\n`, ed25519 };
}

/** Writes the first `n` bytes of `from` to `to` (a partial transfer to resume). */
async function writePrefix(from: string, to: string, n: number): Promise<void> {
  const data = await fsp.readFile(from);
  await fsp.writeFile(to, data.subarray(0, n));
}

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}

/** A server and a scratch directory for one describe. */
function useServer(): { server: () => TestServer; home: () => string; local: () => string } {
  let server: TestServer | undefined;
  let local: string | undefined;
  before(async function () {
    server = await startTestServer();
    local = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-interop-'));
    await fsp.mkdir(path.join(local, 'home'));
  });
  after(async function () {
    await server?.stop();
    if (local) await fsp.rm(local, { recursive: true, force: true });
  });
  return {
    server: () => server as TestServer,
    home: () => (server as TestServer).home(USER),
    local: () => local as string,
  };
}

describe('interop: curl (libssh2)', function () {
  const ctx = useServer();
  let big: string;
  let bigSha: string;
  let url: string;

  before(async function () {
    const version = await requireClient('curl', ['-V'], 'curl');
    if (!/^Protocols:.*\bsftp\b/m.test(version.stdout)) {
      throw new Error('this curl has no SFTP support: apt-get install curl (built with libssh2)');
    }
    big = path.join(ctx.local(), 'big.bin');
    await writeRandomFile(big, 3 * MiB + 17);
    bigSha = await sha256File(big);
    url = `sftp://127.0.0.1:${ctx.server().port}/~/`;
  });

  // -k: no known_hosts check. libssh2 1.10 knows neither AES-GCM nor
  // chacha20-poly1305 nor the -etm MACs: it settles for aes128-ctr with hmac-sha2-256.
  const curl = (args: string[]): Promise<Run> =>
    run('curl', ['-sS', '-k', '-u', `${USER}:${PASSWORD}`, ...args], { cwd: ctx.local() });

  it('uploads with -T (creating directories) and downloads the same bytes', async function () {
    expectOk(await curl(['--ftp-create-dirs', '-T', 'big.bin', `${url}dir%20one/big.bin`]), 'up');
    expect(await sha256File(path.join(ctx.home(), 'dir one', 'big.bin'))).to.equal(bigSha);
    expectOk(await curl(['-o', 'back.bin', `${url}dir%20one/big.bin`]), 'download');
    expect(await sha256File(path.join(ctx.local(), 'back.bin'))).to.equal(bigSha);
  });

  it('lists a directory, long and names only', async function () {
    const long = await curl([`${url}dir%20one/`]);
    expectOk(long, 'listing');
    expect(long.stdout).to.match(/^-rw-r--r-- +1 zhangsan +zhangsan +3145745 .* big\.bin$/m);
    const names = await curl(['--list-only', `${url}dir%20one/`]);
    expectOk(names, 'names');
    expect(names.stdout.split('\n').filter(Boolean).sort()).to.deep.equal(['.', '..', 'big.bin']);
  });

  it('runs quote commands: mkdir, rename, chmod, symlink, rm, rmdir', async function () {
    expectOk(await curl(['-T', 'big.bin', `${url}a.bin`]), 'upload');
    const q = (...cmds: string[]): Promise<Run> =>
      curl([...cmds.flatMap((c) => ['-Q', c]), '-o', '/dev/null', url]);
    expectOk(
      await q('mkdir q', 'rename a.bin q/a.bin', 'chmod 600 q/a.bin', 'symlink a.bin q/link'),
      'quote',
    );
    const moved = path.join(ctx.home(), 'q', 'a.bin');
    expect(await exists(path.join(ctx.home(), 'a.bin'))).to.equal(false);
    expect(await sha256File(moved)).to.equal(bigSha);
    expect((await fsp.stat(moved)).mode & 0o777).to.equal(0o600);
    // libssh2 sends target first, the link second, to every server.
    expect(await fsp.readlink(path.join(ctx.home(), 'q', 'link'))).to.equal('a.bin');
    expectOk(await q('rm q/link', 'rm q/a.bin', 'rmdir q'), 'cleanup');
    expect(await exists(path.join(ctx.home(), 'q'))).to.equal(false);
    const failed = await q('rm nope');
    expect(failed.code).to.equal(21);
    expect(failed.stderr).to.match(/rm command failed: No such file/);
  });

  it('resumes an upload with -C - (writes on from the remote size)', async function () {
    await writePrefix(big, path.join(ctx.home(), 'resume.bin'), MiB + 3);
    // curl stats the remote file, opens it without TRUNC (with APPEND) and writes the rest.
    expectOk(await curl(['-C', '-', '-T', 'big.bin', `${url}resume.bin`]), 'resume upload');
    expect(await sha256File(path.join(ctx.home(), 'resume.bin'))).to.equal(bigSha);
  });

  it('appends with -a: only the APPEND flag puts the bytes at the end', async function () {
    // curl opens WRITE|CREAT|APPEND and writes from offset 0: a server that
    // ignored APPEND would overwrite the start of the file instead.
    const data = await fsp.readFile(big);
    await fsp.writeFile(path.join(ctx.home(), 'append.bin'), data.subarray(0, MiB));
    await fsp.writeFile(path.join(ctx.local(), 'tail.bin'), data.subarray(MiB));
    expectOk(await curl(['-a', '-T', 'tail.bin', `${url}append.bin`]), 'append');
    expect(await sha256File(path.join(ctx.home(), 'append.bin'))).to.equal(bigSha);
  });

  it('resumes a download with -C - (reads from the local size)', async function () {
    await writePrefix(big, path.join(ctx.local(), 'partial.bin'), 1234567);
    expectOk(await curl(['-C', '-', '-o', 'partial.bin', `${url}resume.bin`]), 'resume get');
    expect(await sha256File(path.join(ctx.local(), 'partial.bin'))).to.equal(bigSha);
  });
});

describe('interop: rclone', function () {
  const ctx = useServer();
  let env: NodeJS.ProcessEnv;
  let conf: string;
  let tree: string;

  before(async function () {
    await requireClient('rclone', ['version'], 'rclone');
    const local = ctx.local();
    tree = path.join(local, 'tree');
    await fsp.mkdir(path.join(tree, 'nested', 'deeper'), { recursive: true });
    await fsp.writeFile(path.join(tree, 'empty'), '');
    await fsp.writeFile(path.join(tree, 'one-byte'), 'x');
    await writeRandomFile(path.join(tree, 'nested', 'mid.bin'), 100 * 1024 + 3);
    await writeRandomFile(path.join(tree, 'nested', 'deeper', 'big.bin'), 3 * MiB + 5);
    // rclone quotes paths for md5sum with backslashes: a space, a quote and a dollar.
    await writeRandomFile(path.join(tree, "it's a $name.bin"), MiB);
    const known = path.join(local, 'known_hosts');
    await fsp.writeFile(known, (await hostKeys(ctx.server().port)).knownHosts);
    const obscured = await run('rclone', ['obscure', PASSWORD]);
    expectOk(obscured, 'rclone obscure');
    // A config file, not an on-the-fly remote: rclone saves the hash commands it detects there.
    conf = path.join(local, 'rclone.conf');
    await fsp.writeFile(
      conf,
      [
        '[mf]',
        'type = sftp',
        'host = 127.0.0.1',
        `port = ${ctx.server().port}`,
        `user = ${USER}`,
        `pass = ${obscured.stdout.trim()}`,
        `known_hosts_file = ${known}`,
        '',
      ].join('\n'),
    );
    env = { RCLONE_CONFIG: conf, HOME: path.join(local, 'home') };
  });

  const rclone = (...args: string[]): Promise<Run> =>
    run('rclone', args, { cwd: ctx.local(), env });

  it('copies a tree up, detecting md5sum/sha1sum over exec, and back down', async function () {
    const up = await rclone('copy', tree, 'mf:up', '-vv');
    expectOk(up, 'copy up');
    // rclone probes by running bare `md5sum` with empty input and expects "<md5 of nothing>  -".
    expect(up.stderr).to.include('Hash command accepted');
    expect(await fsp.readFile(conf, 'utf8')).to.match(/^md5sum_command = md5sum$/m);
    expect(up.stderr).to.match(/big\.bin: md5 = [0-9a-f]{32} OK/);
    expect(await snapshotTree(path.join(ctx.home(), 'up'))).to.deep.equal(await snapshotTree(tree));
    const down = path.join(ctx.local(), 'down');
    expectOk(await rclone('copy', 'mf:up', down), 'copy down');
    expect(await snapshotTree(down)).to.deep.equal(await snapshotTree(tree));
  });

  it('check compares md5 sums and notices one changed byte', async function () {
    const same = await rclone('check', tree, 'mf:up');
    expectOk(same, 'check');
    expect(same.stderr).to.include('0 differences found');
    expect(same.stderr).not.to.include('could not be checked');
    // Same size, same time: only the hash can tell.
    const remote = path.join(ctx.home(), 'up', 'nested', 'deeper', 'big.bin');
    const before = await fsp.stat(remote);
    const fd = await fsp.open(remote, 'r+');
    const byte = Buffer.alloc(1);
    await fd.read(byte, 0, 1, MiB);
    await fd.write(Buffer.from([(byte[0] as number) ^ 0xff]), 0, 1, MiB);
    await fd.close();
    await fsp.utimes(remote, before.atime, before.mtime);
    const changed = await rclone('check', tree, 'mf:up');
    expect(changed.code).not.to.equal(0);
    expect(changed.stderr).to.include('1 differences found');
    await fsp.copyFile(path.join(tree, 'nested', 'deeper', 'big.bin'), remote);
    await fsp.utimes(remote, before.atime, before.mtime);
  });

  it('lsl lists sizes; copied files keep their times (SETSTAT)', async function () {
    const lsl = await rclone('lsl', 'mf:up');
    expectOk(lsl, 'lsl');
    const listed = new Map(
      lsl.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const m = /^ *(\d+) \S+ \S+ (.+)$/.exec(l);
          expect(m, l).to.not.equal(null);
          return [(m as RegExpExecArray)[2], Number((m as RegExpExecArray)[1])] as const;
        }),
    );
    for (const rel of ['empty', 'one-byte', 'nested/mid.bin', 'nested/deeper/big.bin']) {
      const st = await fsp.stat(path.join(tree, rel));
      expect(listed.get(rel), rel).to.equal(st.size);
      const onServer = await fsp.stat(path.join(ctx.home(), 'up', rel));
      expect(Math.floor(onServer.mtimeMs / 1000), rel).to.equal(Math.floor(st.mtimeMs / 1000));
    }
    expect(listed.size).to.equal(5);
  });

  it('touch sets a modification time', async function () {
    expectOk(await rclone('touch', 'mf:up/one-byte', '-t', '2010-01-02T03:04:05'), 'touch');
    const st = await fsp.stat(path.join(ctx.home(), 'up', 'one-byte'));
    expect(st.mtimeMs / 1000).to.equal(Date.UTC(2010, 0, 2, 3, 4, 5) / 1000);
  });

  it('md5sum prints the md5 of every file', async function () {
    const r = await rclone('md5sum', 'mf:up');
    expectOk(r, 'md5sum');
    const got = Object.fromEntries(
      r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.slice(34), l.slice(0, 32)]),
    );
    const want: Record<string, string> = {};
    for (const rel of Object.keys(got)) {
      const data = await fsp.readFile(path.join(tree, rel));
      want[rel] = createHash('md5').update(data).digest('hex');
    }
    expect(Object.keys(got)).to.have.length(5);
    expect(got).to.deep.equal(want);
  });

  it('mkdir, rmdir, moveto and delete', async function () {
    const home = ctx.home();
    expectOk(await rclone('mkdir', 'mf:made/inner'), 'mkdir');
    expect((await fsp.stat(path.join(home, 'made', 'inner'))).isDirectory()).to.equal(true);
    expectOk(await rclone('rmdir', 'mf:made/inner'), 'rmdir');
    expect(await exists(path.join(home, 'made', 'inner'))).to.equal(false);
    const sha = await sha256File(path.join(tree, 'nested', 'mid.bin'));
    expectOk(await rclone('moveto', 'mf:up/nested/mid.bin', 'mf:made/mid.bin'), 'moveto');
    expect(await exists(path.join(home, 'up', 'nested', 'mid.bin'))).to.equal(false);
    expect(await sha256File(path.join(home, 'made', 'mid.bin'))).to.equal(sha);
    expectOk(await rclone('delete', 'mf:made'), 'delete');
    expect(await fsp.readdir(path.join(home, 'made'))).to.deep.equal([]);
  });

  it('about shows the quota and the usage (statvfs@openssh.com)', async function () {
    const r = await rclone('about', 'mf:', '--json');
    expectOk(r, 'about');
    const about = JSON.parse(r.stdout) as { total: number; used: number; free: number };
    // The default quota is 1 GiB; sizes come in whole blocks.
    expect(Math.abs(about.total - 1024 * MiB)).to.be.below(64 * 1024);
    const used = (await ctx.server().quota.get(USER)).bytes;
    expect(used).to.be.above(4 * MiB);
    expect(Math.abs(about.used - used)).to.be.below(64 * 1024);
    expect(about.free + about.used).to.equal(about.total);
  });

  it('copies a file of many requests both ways with --sftp-concurrency', async function () {
    const file = path.join(ctx.local(), 'many.bin');
    await writeRandomFile(file, 4 * MiB + 1);
    const sha = await sha256File(file);
    for (const chunk of ['32k', '255k']) {
      const opts = ['--sftp-concurrency', '8', '--sftp-chunk-size', chunk];
      expectOk(await rclone('copyto', file, `mf:conc/${chunk}.bin`, ...opts), `up ${chunk}`);
      expect(await sha256File(path.join(ctx.home(), 'conc', `${chunk}.bin`))).to.equal(sha);
      const back = path.join(ctx.local(), `back-${chunk}.bin`);
      expectOk(await rclone('copyto', `mf:conc/${chunk}.bin`, back, ...opts), `down ${chunk}`);
      expect(await sha256File(back)).to.equal(sha);
    }
  });
});

describe('interop: lftp', function () {
  const ctx = useServer();
  let big: string;
  let bigSha: string;

  before(async function () {
    await requireClient('lftp', ['--version'], 'lftp');
    // lftp runs OpenSSH's ssh for the connection.
    await requireClient('ssh', ['-V'], 'openssh-client');
    big = path.join(ctx.local(), 'big.bin');
    await writeRandomFile(big, 3 * MiB + 11);
    bigSha = await sha256File(big);
    await makeTree(path.join(ctx.local(), 'tree'), 30);
  });

  /** One lftp session; cmd:fail-exit makes the first failing command end it with an error. */
  const lftp = (commands: string[]): Promise<Run> =>
    run(
      'lftp',
      [
        '-u',
        `${USER},${PASSWORD}`,
        `sftp://127.0.0.1:${ctx.server().port}`,
        '-e',
        [
          // Answers ssh's "continue connecting?" with yes (HOME is a scratch directory).
          'set sftp:auto-confirm yes',
          'set cmd:fail-exit yes',
          'set net:max-retries 1',
          'set xfer:clobber on',
          ...commands,
          'bye',
        ].join('; '),
      ],
      { cwd: ctx.local(), env: { HOME: path.join(ctx.local(), 'home') } },
    );

  it('put, ls, cls -l and get', async function () {
    const r = await lftp([
      'mkdir up',
      'cd up',
      'put big.bin',
      'ls',
      'cls -l',
      'get big.bin -o big.back',
    ]);
    expectOk(r, 'lftp');
    expect(await sha256File(path.join(ctx.home(), 'up', 'big.bin'))).to.equal(bigSha);
    expect(await sha256File(path.join(ctx.local(), 'big.back'))).to.equal(bigSha);
    // `ls` prints the server's long name; `cls -l` lays the line out itself.
    expect(r.stdout).to.match(/^-rw-r--r-- +1 zhangsan +zhangsan +3145739 .* big\.bin$/m);
    expect(r.stdout.match(/ 3145739 .* big\.bin$/gm)).to.have.length(2);
  });

  it('mirror -R uploads a tree and mirror brings it back', async function () {
    expectOk(await lftp(['mirror -R tree mtree', 'mirror mtree tree.back']), 'mirror');
    const want = await snapshotTree(path.join(ctx.local(), 'tree'));
    expect(await snapshotTree(path.join(ctx.home(), 'mtree'))).to.deep.equal(want);
    expect(await snapshotTree(path.join(ctx.local(), 'tree.back'))).to.deep.equal(want);
  });

  it('mkdir -p and mirror -R into folders that do not exist yet', async function () {
    // lftp sends the MKDIRs of every level at once, without waiting for the replies.
    expectOk(await lftp(['mkdir -p deep/a/b/c/d', 'mirror -R tree deep2/x/y/tree']), 'lftp');
    expect((await fsp.stat(path.join(ctx.home(), 'deep/a/b/c/d'))).isDirectory()).to.equal(true);
    const want = await snapshotTree(path.join(ctx.local(), 'tree'));
    expect(await snapshotTree(path.join(ctx.home(), 'deep2/x/y/tree'))).to.deep.equal(want);
  });

  it('mv, chmod, ln -s, rm, mkdir and rmdir', async function () {
    const r = await lftp([
      'mkdir ops',
      'put big.bin -o ops/a.bin',
      'mv ops/a.bin ops/b.bin',
      'chmod 640 ops/b.bin',
      'ln -s b.bin ops/link',
      'mkdir ops/sub',
    ]);
    expectOk(r, 'lftp');
    const dir = path.join(ctx.home(), 'ops');
    expect(await exists(path.join(dir, 'a.bin'))).to.equal(false);
    expect(await sha256File(path.join(dir, 'b.bin'))).to.equal(bigSha);
    expect((await fsp.stat(path.join(dir, 'b.bin'))).mode & 0o777).to.equal(0o640);
    expect(await fsp.readlink(path.join(dir, 'link'))).to.equal('b.bin');
    expectOk(await lftp(['rm ops/link ops/b.bin', 'rmdir ops/sub', 'rmdir ops']), 'cleanup');
    expect(await exists(dir)).to.equal(false);
  });

  it('put -c and get -c continue partial transfers', async function () {
    await writePrefix(big, path.join(ctx.home(), 'part.bin'), MiB + 5);
    await writePrefix(big, path.join(ctx.local(), 'part.local'), 700000);
    const r = await lftp(['put -c big.bin -o part.bin', 'get -c part.bin -o part.local']);
    expectOk(r, 'lftp');
    expect(await sha256File(path.join(ctx.home(), 'part.bin'))).to.equal(bigSha);
    expect(await sha256File(path.join(ctx.local(), 'part.local'))).to.equal(bigSha);
  });
});

describe('interop: psftp (PuTTY)', function () {
  const ctx = useServer();
  let big: string;
  let bigSha: string;
  let fingerprint: string;
  let scripts = 0;

  before(async function () {
    await requireClient('psftp', ['-V'], 'putty-tools');
    big = path.join(ctx.local(), 'big.bin');
    await writeRandomFile(big, 3 * MiB + 7);
    bigSha = await sha256File(big);
    fingerprint = (await hostKeys(ctx.server().port)).ed25519;
  });

  /** psftp -b: the first failing command ends the run with a non-zero status. */
  const psftp = async (commands: string[]): Promise<Run> => {
    const script = path.join(ctx.local(), `script-${scripts++}.txt`);
    await fsp.writeFile(script, `${commands.join('\n')}\n`);
    const args = ['-P', String(ctx.server().port), '-pw', PASSWORD, '-batch'];
    args.push('-hostkey', fingerprint, '-b', script, `${USER}@127.0.0.1`);
    return run('psftp', args, { cwd: ctx.local(), env: { HOME: path.join(ctx.local(), 'home') } });
  };

  // psftp (0.78) has no command that creates links, so it never sends
  // SSH_FXP_SYMLINK; WinSCP's own order rule is in src/sftp/client-quirks.ts.
  it('put, ls, get, mv, chmod, mkdir, rm and rmdir', async function () {
    const r = await psftp([
      'mkdir ps',
      'cd ps',
      'put big.bin',
      'ls',
      'get big.bin big.back',
      'mv big.bin moved.bin',
      'chmod 600 moved.bin',
      'mkdir sub',
      'put big.bin sub/copy.bin',
    ]);
    expectOk(r, 'psftp');
    const dir = path.join(ctx.home(), 'ps');
    expect(r.stdout).to.match(/^-rw-r--r-- +1 zhangsan +zhangsan +3145735 .* big\.bin$/m);
    expect(await sha256File(path.join(ctx.local(), 'big.back'))).to.equal(bigSha);
    expect(await exists(path.join(dir, 'big.bin'))).to.equal(false);
    expect(await sha256File(path.join(dir, 'moved.bin'))).to.equal(bigSha);
    expect((await fsp.stat(path.join(dir, 'moved.bin'))).mode & 0o777).to.equal(0o600);
    expect(await sha256File(path.join(dir, 'sub', 'copy.bin'))).to.equal(bigSha);
    const clean = await psftp(['cd ps', 'rm sub/copy.bin', 'rmdir sub', 'rm moved.bin']);
    expectOk(clean, 'psftp cleanup');
    expect(await fsp.readdir(dir)).to.deep.equal([]);
    const refused = await psftp(['rmdir /']);
    expect(refused.code).not.to.equal(0);
  });

  it('reput and reget continue partial transfers', async function () {
    await writePrefix(big, path.join(ctx.home(), 'part.bin'), MiB + 9);
    await writePrefix(big, path.join(ctx.local(), 'part.local'), 500001);
    const r = await psftp(['reput big.bin part.bin', 'reget part.bin part.local']);
    expectOk(r, 'psftp');
    expect(r.stdout).to.include(`reput: restarting at file position ${MiB + 9}`);
    expect(r.stdout).to.include('reget: restarting at file position 500001');
    expect(await sha256File(path.join(ctx.home(), 'part.bin'))).to.equal(bigSha);
    expect(await sha256File(path.join(ctx.local(), 'part.local'))).to.equal(bigSha);
  });
});

describe('interop: paramiko', function () {
  const ctx = useServer();
  let big: string;
  let small: string;
  const script = fixture('paramiko-interop.py');

  before(async function () {
    await requireClient('/usr/bin/python3', ['-c', 'import paramiko'], 'python3-paramiko');
    big = path.join(ctx.local(), 'big.bin');
    small = path.join(ctx.local(), 'small.bin');
    await writeRandomFile(big, 3 * MiB + 21);
    await writeRandomFile(small, MiB - 5);
  });

  async function paramiko(scenario: string, ...args: string[]): Promise<Record<string, unknown>> {
    const port = String(ctx.server().port);
    const r = await run('/usr/bin/python3', [script, port, USER, PASSWORD, scenario, ...args], {
      // A reply overtaken by a later one leaves paramiko waiting for ever.
      timeoutMs: 25000,
    });
    expectOk(r, `paramiko ${scenario}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  it('put and get, with and without pipelining and prefetch', async function () {
    const out = path.join(ctx.local(), 'out');
    await fsp.mkdir(out);
    const r = await paramiko('transfers', big, small, out);
    // paramiko 2.x knows neither AES-GCM nor chacha20-poly1305.
    expect(r.cipher).to.match(/^aes\d+-ctr$/);
    const bigSha = await sha256File(big);
    const smallSha = await sha256File(small);
    const pm = path.join(ctx.home(), 'pm');
    expect(await sha256File(path.join(pm, 'put.bin'))).to.equal(bigSha);
    expect(await sha256File(path.join(pm, 'piped.bin'))).to.equal(bigSha);
    expect(await sha256File(path.join(pm, 'plain.bin'))).to.equal(smallSha);
    expect(await sha256File(path.join(out, 'get-prefetch.bin'))).to.equal(bigSha);
    expect(await sha256File(path.join(out, 'get-plain.bin'))).to.equal(smallSha);
    expect(await sha256File(path.join(out, 'prefetch.bin'))).to.equal(bigSha);
  });

  it('path operations: listdir_attr, stat/lstat, links, chmod/utime/truncate, renames', async () => {
    const r = await paramiko('ops');
    expect(r).to.deep.include({
      getcwd: '/ops',
      mkdir_mode: 0o750,
      listdir: ['a.txt', 'b.txt'],
      readlink: 'a.txt',
      normalize: '/ops/a.txt',
      b_content: 'hello',
      stat_missing: 'FileNotFoundError:2',
      left: [],
    });
    const listing = r.listdir_attr as Record<string, { size: number; longname: string }>;
    expect(listing['a.txt']?.size).to.equal(15);
    expect(listing['a.txt']?.longname).to.match(/^-rw-r--r-- +1 zhangsan +zhangsan +15 .* a\.txt$/);
    expect(r.stat_link).to.deep.include({ size: 15, islink: false });
    expect(r.lstat_link).to.deep.include({ size: 5, islink: true });
    expect(r.after_chmod_utime).to.deep.include({
      mode: 0o100600,
      atime: 1000000000,
      mtime: 1234567890,
    });
    expect(r.truncated).to.deep.include({ size: 5 });
    expect(r.fstat).to.deep.include({ size: 2, mode: 0o100640, mtime: 1100000000 });
    // Plain RENAME onto an existing name fails (FAILURE: no errno); posix_rename replaces.
    expect(r.rename_over_existing).to.equal('OSError:None');
    expect(r.remove_dir).to.equal('OSError:None');
    expect(r.rmdir_nonempty).to.equal('OSError:None');
    expect(r.root_after).to.not.include('ops');
    expect(await exists(path.join(ctx.home(), 'ops'))).to.equal(false);
  });

  it('several SFTP channels on one transport at once', async function () {
    const r = await paramiko('channels', big, '4');
    const sha = await sha256File(big);
    expect(r.errors).to.deep.equal([]);
    expect(r.digests).to.deep.equal([sha, sha, sha, sha]);
    for (let i = 0; i < 4; i++) {
      expect(await sha256File(path.join(ctx.home(), `chan-${i}.bin`))).to.equal(sha);
    }
  });
});
