/**
 * The terminal client's full screen, driven in a pseudo-terminal: the screen
 * is read back as text from a headless xterm fed with the client's output.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { sha256File, writeRandomFile } from '../helpers/files';
import { KEYS, PtyTerminal } from '../helpers/pty-terminal';
import { startTestServer, type TestServer } from '../helpers/server';

const BIN = path.resolve(__dirname, '../../../bin/miniftp.js');
const MiB = 1024 * 1024;

describe('client full screen', function () {
  let server: TestServer;
  let work: string;
  let local: string;
  let home: string;
  let term: PtyTerminal | undefined;

  const remote = (p: string): string => path.join(server.home('zhangsan'), p);
  const exists = (p: string): Promise<boolean> =>
    fsp.stat(p).then(
      () => true,
      () => false,
    );

  const start = (args: string[], env: NodeJS.ProcessEnv = {}): PtyTerminal => {
    term = new PtyTerminal(process.execPath, [BIN, ...args, `zhangsan@127.0.0.1:${server.port}`], {
      cwd: local,
      env: { PATH: process.env.PATH, HOME: home, TERM: 'xterm-256color', ...env },
    });
    return term;
  };

  /** The row of a pane line that shows `name` (left half: local, right half: remote). */
  const paneHas = (screen: string, side: 'local' | 'remote', name: string): boolean =>
    screen
      .split('\n')
      .slice(1, 15)
      .some((l) => (side === 'local' ? l.slice(0, 40) : l.slice(40)).includes(name));

  before(async () => {
    server = await startTestServer();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-client-tui-'));
    local = path.join(work, 'local');
    home = path.join(work, 'home');
    await fsp.mkdir(path.join(local, 'into'), { recursive: true });
    await fsp.mkdir(home);
    await writeRandomFile(path.join(local, 'upload.bin'), 3 * MiB + 5);
    await fsp.mkdir(remote('remote-dir'), { recursive: true });
    await fsp.writeFile(remote('remote-dir/inside.txt'), 'inside\n');
    await fsp.writeFile(remote('fetch.txt'), 'fetched\n');
  });

  afterEach(() => {
    term?.dispose();
    term = undefined;
  });

  after(async () => {
    await server.stop();
    await fsp.rm(work, { recursive: true, force: true });
  });

  it('logs in, browses, transfers, makes and deletes folders, hints, and quits with bye', async () => {
    const t = start(['--known-hosts', path.join(work, 'known_hosts')]);
    // Trust on first use comes first: no password is asked for before the host key is accepted.
    let screen = await t.waitForText('(yes/no)?');
    expect(screen).not.to.include('password');
    // OpenSSH's short key name keeps the fingerprint on one 80-column line.
    expect(t.lines()).to.satisfy((lines: string[]) =>
      lines.some((l) => /^ED25519 key fingerprint is SHA256:[A-Za-z0-9+/]{43}\.$/.test(l)),
    );
    t.write('yes\r');
    // Then the password, without echo; a wrong one is asked for again.
    await t.waitForText("zhangsan@127.0.0.1's password:");
    t.write('wrong\r');
    await t.waitForText('Permission denied, please try again.');
    for (const l of t.lines().filter((line) => line.includes('password:'))) {
      expect(l.trim()).to.match(/password:$/);
    }
    t.write('123\r');

    // Both panes, with their files; the remote pane is active.
    screen = await t.waitFor('both panes', (s) => paneHas(s, 'remote', 'fetch.txt'));
    await t.waitFor('the local pane', (s) => paneHas(s, 'local', 'upload.bin'));
    screen = t.text();
    expect(screen).to.include('*Remote: /');
    expect(paneHas(screen, 'local', 'into/')).to.equal(true);
    expect(paneHas(screen, 'remote', 'remote-dir/')).to.equal(true);
    expect(screen.split('\n')[23]).to.include('F5 copy');

    // Enter opens the selected folder (folders come first), Backspace goes back up.
    t.write(KEYS.enter);
    await t.waitFor('the remote folder', (s) => s.includes('Remote: /remote-dir'));
    await t.waitFor('its file', (s) => paneHas(s, 'remote', 'inside.txt'));
    t.write(KEYS.backspace);
    await t.waitFor('the remote root', (s) => paneHas(s, 'remote', 'fetch.txt'));

    // Tab moves to the local pane.
    t.write(KEYS.tab);
    await t.waitForText('*Local:');

    // Typing starts a command: put shows a progress bar, then the finished line.
    t.write('put upload.bin\r');
    screen = await t.waitForText(/put upload\.bin +(\[.*\] +\d+%|done)/);
    await t.waitForText(/put upload\.bin: done, sent 3145733 bytes/);
    await t.waitFor('the remote pane to list it', (s) => paneHas(s, 'remote', 'upload.bin'));
    expect(await sha256File(remote('upload.bin'))).to.equal(
      await sha256File(path.join(local, 'upload.bin')),
    );

    // get into a target folder.
    t.write('get fetch.txt into\r');
    await t.waitForText('get fetch.txt: done, received 8 bytes');
    expect(await fsp.readFile(path.join(local, 'into', 'fetch.txt'), 'utf8')).to.equal('fetched\n');

    // mkdir by command; F7 makes a folder in the active (local) pane.
    t.write('mkdir made-here\r');
    await t.waitFor('the new remote folder', (s) => paneHas(s, 'remote', 'made-here/'));
    expect(await exists(remote('made-here'))).to.equal(true);
    t.write(KEYS.f7);
    await t.waitForText('New local folder:');
    t.write('local-new\r');
    await t.waitFor('the new local folder', (s) => paneHas(s, 'local', 'local-new/'));
    expect(await exists(path.join(local, 'local-new'))).to.equal(true);

    // rm of a folder with files asks first.
    t.write('rm remote-dir\r');
    await t.waitForText('Delete the remote folder remote-dir and everything in it');
    t.write('y');
    await t.waitFor('the folder to go', (s) => !paneHas(s, 'remote', 'remote-dir/'));
    expect(await exists(remote('remote-dir'))).to.equal(false);
    t.write('rm made-here\r');
    await t.waitFor('the empty folder to go', (s) => !paneHas(s, 'remote', 'made-here/'));

    // A wrong command: the hint and the command names in the log (the dash is
    // ASCII here: the pty has no UTF-8 locale), and nothing that takes the keyboard.
    t.write('pur upload.bin\r');
    screen = await t.waitForText(/unknown command 'pur' [-\u2014] did you mean 'put'\?/);
    expect(screen).to.include('commands: put get mirror ls cd pwd mkdir rm rename');

    // So the next command typed runs.
    t.write('bye\r');
    const exit = await t.exited;
    expect(exit.exitCode).to.equal(0);
  });

  it('filters, renames with F6, deletes with F8 after asking, shows help, redraws on resize', async () => {
    await fsp.writeFile(path.join(local, 'delete-me.txt'), 'x');
    await fsp.writeFile(path.join(local, 'rename-me.txt'), 'y');
    const t = start(['--accept-new-host-key', '--known-hosts', path.join(work, 'known_hosts')], {
      MINIFTP_PASSWORD: '123',
    });
    await t.waitFor('the local pane', (s) => paneHas(s, 'local', 'delete-me.txt'));
    t.write(KEYS.tab);
    await t.waitForText('*Local:');

    // F6 renames the selection (found with the filter).
    t.write('/rename');
    await t.waitFor('the filter', (s) => !paneHas(s, 'local', 'delete-me.txt'));
    t.write(KEYS.enter);
    await t.waitForText('[/rename]');
    t.write(KEYS.down);
    t.write(KEYS.f6);
    await t.waitForText('Rename or move rename-me.txt to: rename-me.txt');
    t.write('\x15renamed.txt\r');
    await t.waitFor('the new name', (s) => paneHas(s, 'local', 'renamed.txt'));
    expect(await exists(path.join(local, 'renamed.txt'))).to.equal(true);
    t.write(KEYS.escape);
    await t.waitFor('the filter to clear', (s) => !s.includes('[/rename]'));

    // "/" filters the active pane as you type.
    t.write('/delete');
    await t.waitFor('the filter', (s) => !paneHas(s, 'local', 'upload.bin'));
    t.write(KEYS.enter);
    await t.waitForText('[/delete]');
    // The filtered pane shows "../" then the one match.
    t.write(KEYS.down);
    t.write(KEYS.f8);
    await t.waitForText('Delete the local file delete-me.txt?');
    t.write('y');
    await t.waitFor('the file to go', (s) => !paneHas(s, 'local', 'delete-me.txt'));
    expect(await exists(path.join(local, 'delete-me.txt'))).to.equal(false);

    t.resize(100, 30);
    // The redraw arrives in pieces: wait until the bottom row is drawn at the new size too.
    await t.waitFor('a wider screen with its key bar on the last row', (s) => {
      const rows = s.split('\n');
      return (rows[1] ?? '').length === 100 && (rows[29] ?? '').includes('F10 quit');
    });

    t.write(KEYS.f1);
    await t.waitForText('copy the selection to the other side');
    t.write(KEYS.escape);
    await t.waitFor('the help to close', (s) => !s.includes('copy the selection'));

    // F1 works while a command is half typed; typing over the help closes it
    // and goes on with the command line.
    t.write('lp');
    t.write(KEYS.f1);
    await t.waitForText('copy the selection to the other side');
    t.write('wd\r');
    await t.waitForText(`local folder: ${local}`);
    expect(t.text()).not.to.include('copy the selection');

    // `help` opens the same list, commands first; q closes it and is typed,
    // Esc then leaves the command line, and q in the panes quits.
    t.write('help\r');
    await t.waitForText('lmkdir DIR');
    t.write('q');
    await t.waitFor('q on the command line', (s) =>
      (s.split('\n')[28] ?? '').startsWith('miniftp> q'),
    );
    expect(t.text()).not.to.include('lmkdir DIR');
    t.write(KEYS.escape);
    await t.waitForText('type a command (help lists them)');
    t.write('q');
    const exit = await t.exited;
    expect(exit.exitCode).to.equal(0);
  });

  it('holds a question that comes while a command is typed until the line is done', async () => {
    // The server holds the first MiB of another file: the upload's resume is refused.
    await writeRandomFile(remote('clash.bin'), MiB);
    const before = await sha256File(remote('clash.bin'));
    await writeRandomFile(path.join(local, 'clash.bin'), 2 * MiB);
    const t = start(['--accept-new-host-key', '--known-hosts', path.join(work, 'q_known_hosts')], {
      MINIFTP_PASSWORD: '123',
    });
    await t.waitForText('type a command (help lists them)');
    t.write(KEYS.tab);
    await t.waitForText('*Local:');
    // One write: "lpw" is on the command line before the refusal can arrive.
    t.write('put clash.bin\rlpw');
    await t.waitForText('a question waits: it opens after Enter or Esc');
    expect(t.text()).not.to.include('another file of that name');
    // Its keys would have answered it; the command runs instead, then the question opens.
    t.write('d\r');
    await t.waitForText(`local folder: ${local}`);
    await t.waitForText('another file of that name is on the server');
    // Continue: the server refuses, the start differs; asked again without continue.
    t.write('c');
    await t.waitForText('Overwrite it, skip, or keep both (rename)?');
    expect(t.text()).to.include('resume refused');
    t.write('s');
    await t.waitForText('put clash.bin: skipped, the destination was kept');
    expect(await sha256File(remote('clash.bin'))).to.equal(before);
    t.write('q');
    expect((await t.exited).exitCode).to.equal(0);
  });

  it('gives up after three wrong passwords', async () => {
    const t = start(['--known-hosts', path.join(work, 'three_tries_known_hosts')]);
    await t.waitForText('(yes/no)?');
    t.write('yes\r');
    for (let i = 1; i <= 3; i++) {
      await t.waitFor(`password prompt ${i}`, (s) => s.split('password:').length - 1 === i);
      t.write(`wrong${i}\r`);
    }
    const exit = await t.exited;
    expect(exit.exitCode).to.equal(1);
    expect(t.text()).to.include(
      'miniftp: authentication failed: wrong user name or password (3 tries)',
    );
    expect(t.text().match(/Permission denied, please try again\./g)).to.have.length(2);
  });
});
