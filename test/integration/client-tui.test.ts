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
    // Password without echo, then trust on first use.
    await t.waitForText("zhangsan@127.0.0.1's password:");
    t.write('123\r');
    await t.waitForText('(yes/no)?');
    expect(t.text()).to.include('ssh-ed25519 key fingerprint is SHA256:');
    // Nothing was echoed after the password prompt.
    const promptLine = t.lines().find((l) => l.includes('password:')) ?? '';
    expect(promptLine.trim()).to.match(/password:$/);
    t.write('yes\r');

    // Both panes, with their files; the remote pane is active.
    let screen = await t.waitFor('both panes', (s) => paneHas(s, 'remote', 'fetch.txt'));
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

    // A wrong command: the hint and the list of commands.
    t.write('pur upload.bin\r');
    screen = await t.waitForText("did you mean 'put'?");
    expect(screen).to.include('rename OLD NEW');
    t.write(KEYS.escape);
    await t.waitFor('the hint to close', (s) => !s.includes('rename OLD NEW'));

    t.write('bye\r');
    const exit = await t.exited;
    expect(exit.exitCode).to.equal(0);
  });

  it('filters, renames with F6, deletes with F8 after asking, shows help, redraws on resize', async () => {
    await fsp.writeFile(path.join(local, 'delete-me.txt'), 'x');
    await fsp.writeFile(path.join(local, 'rename-me.txt'), 'y');
    const t = start(['--known-hosts', path.join(work, 'known_hosts')], {
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
    await t.waitForText('Rename rename-me.txt to: rename-me.txt');
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
    await t.waitFor('a wider screen', (s) => (s.split('\n')[1] ?? '').length === 100);
    const screen = t.text();
    expect(screen.split('\n')[29]).to.include('F10 quit');

    t.write(KEYS.f1);
    await t.waitForText('copy the selection to the other side');
    t.write(KEYS.escape);
    await t.waitFor('the help to close', (s) => !s.includes('copy the selection'));
    t.write('q');
    const exit = await t.exited;
    expect(exit.exitCode).to.equal(0);
  });
});
