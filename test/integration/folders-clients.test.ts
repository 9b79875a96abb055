/**
 * Shared folders as other clients see them: ordinary directories in the
 * listing of their parent that STAT and LSTAT describe (rclone, PuTTY's
 * psftp, OpenSSH's `ls -l`), and MiniFTP's own client, whose pane shows the
 * mode of each shared folder.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { sharedMode } from '../../src/client/listing';
import { sftpBatch, sshExec } from '../helpers/openssh';
import { PtyTerminal } from '../helpers/pty-terminal';
import { keysDir, startTestServer, type TestServer } from '../helpers/server';

const PW = 'pw-123';
const BIN = path.resolve(__dirname, '../../../bin/miniftp.js');

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, LC_ALL: 'C', ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function admin(server: TestServer, line: string, input = ''): Promise<void> {
  const r = await sshExec(server.port, { user: 'admin', password: 'password' }, [line], input);
  expect(r.code, `admin '${line}':\n${r.stderr}${r.stdout}`).to.equal(0);
}

describe('shared folders seen by rclone, psftp, OpenSSH and the MiniFTP client', function () {
  this.timeout(60_000);
  let server: TestServer;
  let work: string;

  before(async function () {
    server = await startTestServer();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-folders-clients-'));
    await admin(server, 'user add alice --password-stdin', `${PW}\n`);
    await admin(server, 'group add class1');
    await admin(server, 'group member add class1 alice');
    for (const [name, mode] of [
      ['handouts', 'read'],
      ['homework', 'upload'],
      ['team', 'write'],
    ] as const) {
      await admin(server, `folder add ${name}`);
      await admin(server, `folder grant ${name} @class1 ${mode}`);
    }
    await fsp.writeFile(
      path.join(server.dataDir, 'docs', '.folders', 'handouts', 'sheet.txt'),
      'sheet',
    );
    await fsp.mkdir(path.join(server.home('alice'), 'own'), { recursive: true });
  });

  after(async function () {
    await server?.stop();
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  it('OpenSSH ls -l shows the folders as directories whose permission bits say the mode', async function () {
    const r = await sftpBatch(server.port, { user: 'alice', password: PW }, ['ls -l /']);
    expect(r.code, r.stderr).to.equal(0);
    // OpenSSH's sftp lays the line out itself (names from users-groups-by-id).
    expect(r.stdout).to.match(/^dr-xr-xr-x .* \/handouts$/m);
    expect(r.stdout).to.match(/^d-wx-wx-wx .* \/homework$/m);
    expect(r.stdout).to.match(/^drwxrwxrwx .* \/team$/m);
    expect(r.stdout).to.not.match(/^drwxrwxrwx .* \/own$/m);
  });

  it('rclone lists, stats and copies from them', async function () {
    const probe = await run('rclone', ['version']);
    if (probe.code !== 0) this.skip();
    const env = {
      RCLONE_CONFIG: path.join(work, 'none.conf'),
      HOME: work,
      RCLONE_SFTP_HOST: '127.0.0.1',
      RCLONE_SFTP_PORT: String(server.port),
      RCLONE_SFTP_USER: 'alice',
      RCLONE_SFTP_PASS: (await run('rclone', ['obscure', PW])).stdout.trim(),
    };
    const top = await run('rclone', ['lsjson', ':sftp:/'], env);
    expect(top.code, top.stderr).to.equal(0);
    const entries = JSON.parse(top.stdout) as Array<{ Name: string; IsDir: boolean }>;
    for (const name of ['handouts', 'homework', 'team', 'own']) {
      expect(entries.find((e) => e.Name === name)?.IsDir, name).to.equal(true);
    }
    const copied = await run('rclone', ['copy', ':sftp:/handouts', path.join(work, 'down')], env);
    expect(copied.code, copied.stderr).to.equal(0);
    expect(await fsp.readFile(path.join(work, 'down', 'sheet.txt'), 'utf8')).to.equal('sheet');
    // A write into the read-only folder is refused.
    await fsp.writeFile(path.join(work, 'up.txt'), 'up');
    const refused = await run(
      'rclone',
      ['copyto', path.join(work, 'up.txt'), ':sftp:/handouts/up.txt'],
      env,
    );
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.match(/permission denied/i);
  });

  it('psftp lists and downloads from them', async function () {
    const probe = await run('psftp', ['-V']);
    if (probe.code !== 0 && /ENOENT/.test(probe.stderr)) this.skip();
    const [, blob] = (
      await fsp.readFile(path.join(keysDir(), 'ssh_host_ed25519_key.pub'), 'utf8')
    ).split(' ');
    const fingerprint = `SHA256:${createHash('sha256')
      .update(Buffer.from(blob ?? '', 'base64'))
      .digest('base64')
      .replace(/=+$/, '')}`;
    const script = path.join(work, 'psftp.txt');
    await fsp.writeFile(
      script,
      `ls /\ncd /handouts\nls\nget sheet.txt ${path.join(work, 'ps-sheet.txt')}\n`,
    );
    const r = await run(
      'psftp',
      [
        '-P',
        String(server.port),
        '-pw',
        PW,
        '-batch',
        '-hostkey',
        fingerprint,
        '-b',
        script,
        'alice@127.0.0.1',
      ],
      { HOME: work },
    );
    expect(r.code, r.stderr).to.equal(0);
    // psftp prints the server's long name, whose group column says the mode.
    expect(r.stdout).to.match(/^dr-xr-xr-x +\d+ alice +shared:read .* handouts$/m);
    expect(r.stdout).to.match(/^d-wx-wx-wx +\d+ alice +shared:upload .* homework$/m);
    expect(r.stdout).to.match(/^d[rwx-]{9} +\d+ alice +alice .* own$/m);
    const line = r.stdout.split('\n').find((l) => l.endsWith(' team')) ?? '';
    expect(sharedMode(line)).to.equal('write');
    expect(r.stdout).to.match(/sheet\.txt$/m);
  });

  it("the MiniFTP client's pane shows each shared folder's mode", async function () {
    const home = path.join(work, 'client-home');
    await fsp.mkdir(home, { recursive: true });
    const term = new PtyTerminal(
      process.execPath,
      [
        BIN,
        '--accept-new-host-key',
        '--known-hosts',
        path.join(home, 'kh'),
        `alice@127.0.0.1:${server.port}`,
      ],
      {
        cwd: work,
        cols: 100,
        rows: 24,
        env: {
          PATH: process.env.PATH,
          HOME: home,
          TERM: 'xterm-256color',
          LANG: 'C.UTF-8',
          LC_ALL: 'C.UTF-8',
          MINIFTP_PASSWORD: PW,
        },
      },
    );
    try {
      await term.waitForText('type a command (help lists them)');
      await term.waitForText('<UP>');
      // The remote pane is the right half of the screen.
      const rights = term.lines().map((l) => l.slice(l.indexOf('││') + 2));
      const remote = (name: string): string => rights.find((l) => l.includes(` ${name}/`)) ?? '';
      expect(remote('handouts')).to.match(/handouts\/ +<RO>/);
      expect(remote('homework')).to.match(/homework\/ +<UP>/);
      expect(remote('team')).to.match(/team\/ +<RW>/);
      expect(remote('own')).to.match(/own\/ +<DIR>/);
    } finally {
      term.dispose();
    }
  });
});
