/**
 * The terminal client's screen in a pseudo-terminal, read back from a
 * headless xterm: wide characters, failures in a queue, the questions
 * before overwriting and quitting, marking and sorting.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Unicode11Addon } from '@xterm/addon-unicode11';
import { expect } from 'chai';
import { writeRandomFile } from '../helpers/files';
import { KEYS, PtyTerminal } from '../helpers/pty-terminal';
import { startTestServer, type TestServer } from '../helpers/server';

const BIN = path.resolve(__dirname, '../../../bin/miniftp.js');
const MiB = 1024 * 1024;
const DATE = /[A-Z][a-z]{2} \d\d [ \d]\d:?\d\d/;

describe('client full screen: the screen itself', function () {
  let server: TestServer;
  let work: string;
  let local: string;
  let home: string;
  let term: PtyTerminal | undefined;
  let runs = 0;

  const remote = (p: string): string => path.join(server.home('zhangsan'), p);
  const exists = (p: string): Promise<boolean> =>
    fsp.stat(p).then(
      () => true,
      () => false,
    );

  /** The client in a UTF-8 pty, logged in, with its panes drawn. */
  const start = async (
    o: { cols?: number; rows?: number; args?: string[]; cwd?: string; editor?: string } = {},
  ): Promise<PtyTerminal> => {
    const knownHosts = path.join(work, `known_hosts_${runs++}`);
    term = new PtyTerminal(
      process.execPath,
      [
        BIN,
        '--accept-new-host-key',
        '--known-hosts',
        knownHosts,
        ...(o.args ?? []),
        `zhangsan@127.0.0.1:${server.port}`,
      ],
      {
        cwd: o.cwd ?? local,
        cols: o.cols ?? 80,
        rows: o.rows ?? 24,
        env: {
          PATH: process.env.PATH,
          HOME: home,
          TERM: 'xterm-256color',
          LANG: 'C.UTF-8',
          LC_ALL: 'C.UTF-8',
          MINIFTP_PASSWORD: '123',
          ...(o.editor ? { EDITOR: o.editor } : {}),
        },
      },
    );
    // Emoji take two cells, as in today's terminals (xterm.js alone follows Unicode 6).
    term.term.loadAddon(new Unicode11Addon());
    term.term.unicode.activeVersion = '11';
    await term.waitForText('type a command (help lists them)');
    return term;
  };

  /** The cells of a screen row: one string per cell ('' for the second half of a wide character). */
  const cells = (t: PtyTerminal, y: number): string[] => {
    const buf = t.term.buffer.active;
    const line = buf.getLine(buf.viewportY + y);
    const out: string[] = [];
    for (let x = 0; x < t.term.cols; x++) {
      const cell = line?.getCell(x);
      out.push(cell?.getWidth() === 0 ? '' : cell?.getChars() || ' ');
    }
    return out;
  };

  /** The rows (numbers) of the pane area whose right half shows `name`. */
  const remoteRow = (t: PtyTerminal, name: string): number =>
    t.lines().findIndex((l, y) => y > 0 && y < 15 && l.includes('│') && l.includes(name));

  before(async () => {
    server = await startTestServer();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-client-tui-screen-'));
    local = path.join(work, 'local');
    home = path.join(work, 'home');
    await fsp.mkdir(local, { recursive: true });
    await fsp.mkdir(home);
  });

  afterEach(() => {
    term?.dispose();
    term = undefined;
  });

  after(async () => {
    await server.stop();
    await fsp.rm(work, { recursive: true, force: true });
  });

  it('keeps the columns aligned at 80x24 with wide characters, combining marks and emoji', async () => {
    const names = [
      '名前 unicode ファイル.txt',
      'cafe\u0301 menu.txt',
      'party 🎉 time.txt',
      '☕ break.txt',
      'plain.txt',
    ];
    await fsp.mkdir(remote('wide'));
    for (const n of names) await fsp.writeFile(remote(`wide/${n}`), 'x'.repeat(1234));
    const t = await start();
    t.write('cd wide\r');
    await t.waitFor('the remote listing', (s) => s.includes('plain.txt') && s.includes('名前'));
    // The size and date columns end at the same cell on every row, right before the border.
    const ends: number[] = [];
    for (const n of ['名前', 'menu.txt', 'time.txt', 'break.txt', 'plain.txt']) {
      const y = remoteRow(t, n);
      expect(y, `row of ${n}`).to.be.above(0);
      const row = cells(t, y);
      const text = row.join('');
      expect(text, `row of ${n}`).not.to.include('?');
      expect(text, `row of ${n}: ${text}`).to.match(DATE);
      // The last cell before the right border is the date's last digit.
      expect(row[79]).to.equal('│');
      expect(row[78], `row of ${n}: ${text}`).to.match(/\d/);
      ends.push(row.findIndex((_, x) => row.slice(x, x + 4).join('') === '1.2K'));
    }
    expect(new Set(ends).size, `size column at ${ends.join(', ')}`).to.equal(1);
    expect(t.text()).to.include('名前 unicode');
    expect(t.text()).to.include('cafe\u0301 menu.txt');
    expect(t.text()).to.include('party 🎉 time.txt');
    expect(t.text()).to.include('☕ break.txt');

    // The transfer line and the log show the name as it is.
    t.write('get "名前 unicode ファイル.txt"\r');
    await t.waitForText(/get 名前 unicode ファイル\.txt: done, received 1234 bytes/);
    await t.waitForText(/#1 get 名前 unicode ファイル\.txt done, 1\.21 KiB received/);
    expect(
      await fsp.readFile(path.join(local, '名前 unicode ファイル.txt'), 'utf8'),
    ).to.have.length(1234);
    t.write('q');
    expect((await t.exited).exitCode).to.equal(0);
  });

  it('keeps a failure in a folder upload in sight: the failed line, the count and a summary', async () => {
    const tree = path.join(local, 'album');
    await fsp.mkdir(tree);
    for (const n of ['a.bin', 'b.bin', 'c.bin']) await writeRandomFile(path.join(tree, n), 1000);
    await writeRandomFile(path.join(tree, 'huge.bin'), 3 * MiB);
    const original = (await server.store.users.get('zhangsan'))?.quotaBytes ?? 0;
    const setQuota = async (bytes: number): Promise<void> => {
      await server.store.users.setQuota('zhangsan', bytes);
      await server.quota.refreshLimits('zhangsan');
    };
    await setQuota((await server.quota.get('zhangsan')).bytes + MiB);
    try {
      const t = await start({ rows: 30, cols: 100 });
      // The remote pane's title shows the room left and the quota.
      await t.waitForText(/\*Remote: \/ \[\d+(\.\d+)?[KMG] free of \d/);
      t.write('put album\r');
      await t.waitForText(/transfers ended: 3 done, 1 failed: album\/huge\.bin: not enough room/);
      const screen = t.text();
      // The failed line stays in the transfer area, and the title counts it.
      expect(screen).to.match(/#\d+ put album\/huge\.bin FAILED: not enough room on the server/);
      expect(screen.split('\n')[0]).to.include('1 FAILED');
      // Nothing of the big file was sent: no partial file counts against the quota.
      expect(await exists(remote('album/huge.bin'))).to.equal(false);
      expect(await exists(remote('album/c.bin'))).to.equal(true);
      // Ctrl-D dismisses the ended transfers.
      t.write('\x04');
      await t.waitFor('the failed line to go', (s) => !s.includes('FAILED'));
      // More lines push the summary out of the log; Shift-PgUp scrolls back to it.
      t.write('lpwd\r'.repeat(5));
      await t.waitFor('the summary to scroll away', (s) => !s.includes('transfers ended'));
      t.write('\x1b[5;2~\x1b[5;2~');
      await t.waitForText(/transfers ended: 3 done, 1 failed/);
      t.write('q');
      expect((await t.exited).exitCode).to.equal(0);
    } finally {
      await setQuota(original);
    }
  });

  it('asks before replacing a different file: rename keeps both, skip keeps it, overwrite replaces', async () => {
    await fsp.writeFile(remote('same.txt'), 'the server copy, longer than the local one\n');
    await fsp.writeFile(path.join(local, 'same.txt'), 'local copy\n');
    const t = await start();
    t.write('put same.txt\r');
    await t.waitForText('another file of that name is on the server');
    t.write('r');
    await t.waitForText(/put same\.txt as same \(2\)\.txt: done/);
    expect(await fsp.readFile(remote('same (2).txt'), 'utf8')).to.equal('local copy\n');
    expect(await fsp.readFile(remote('same.txt'), 'utf8')).to.match(/^the server copy/);

    t.write('put same.txt\r');
    await t.waitForText('another file of that name is on the server');
    t.write('s');
    await t.waitForText('put same.txt: skipped, the destination was kept');
    expect(await fsp.readFile(remote('same.txt'), 'utf8')).to.match(/^the server copy/);

    t.write('put same.txt\r');
    await t.waitForText('another file of that name is on the server');
    t.write('o');
    await t.waitFor('the overwrite', (s) => (s.match(/put same\.txt: done/g) ?? []).length >= 1);
    await t.waitForText(/#\d+ put same\.txt done/);
    t.write('q');
    expect((await t.exited).exitCode).to.equal(0);
    expect(await fsp.readFile(remote('same.txt'), 'utf8')).to.equal('local copy\n');
  });

  it('asks before Ctrl-C quits during a transfer', async () => {
    await writeRandomFile(path.join(local, 'slow.bin'), 8 * MiB);
    // 4 Mbit/s: the upload takes about 16 s, longer than the questions below.
    const t = await start({ args: ['-l', '4000'] });
    t.write('put slow.bin\r');
    await t.waitForText(/#\d+ put slow\.bin \[/);
    t.write('\x03');
    await t.waitForText('1 transfer(s) not finished. Quit anyway?');
    t.write('n');
    await t.waitFor('the question to close', (s) => !s.includes('Quit anyway?'));
    expect(t.text()).to.match(/put slow\.bin \[/);
    t.write('\x03');
    await t.waitForText('Quit anyway?');
    t.write('y');
    expect((await t.exited).exitCode).to.equal(0);
  });

  it('marks entries by key and by pattern, and deletes the marked ones after asking', async () => {
    const dir = path.join(local, 'marks');
    await fsp.mkdir(dir);
    for (const n of ['a1.txt', 'a2.txt', 'b1.txt', 'c1.txt'])
      await fsp.writeFile(path.join(dir, n), n);
    const t = await start({ cwd: dir });
    t.write(KEYS.tab);
    await t.waitForText('*Local:');
    // '+' asks for a pattern ("*" to start with).
    t.write('+');
    await t.waitForText('Mark the entries matching: *');
    t.write('\x15a*\r');
    await t.waitForText('[2 marked]');
    // Insert marks the entry under the cursor: ../ a1 a2 b1 c1 — down to c1.
    t.write(`${KEYS.down}${KEYS.down}${KEYS.down}${KEYS.down}`);
    t.write('\x1b[2~');
    await t.waitForText('[3 marked]');
    t.write(KEYS.f8);
    await t.waitForText('Delete the 3 marked local entries');
    t.write('y');
    await t.waitForText('deleted 3 of 3 entries');
    expect((await fsp.readdir(dir)).sort()).to.deep.equal(['b1.txt']);
    t.write('q');
    expect((await t.exited).exitCode).to.equal(0);
  });

  it('sorts a pane by size and time and reverses it', async () => {
    await fsp.mkdir(remote('sorting'));
    await fsp.writeFile(remote('sorting/aaa-small.txt'), 'x');
    await fsp.writeFile(remote('sorting/zzz-big.txt'), 'x'.repeat(5000));
    await fsp.utimes(remote('sorting/aaa-small.txt'), new Date(2020, 0, 1), new Date(2020, 0, 1));
    const t = await start();
    t.write('cd sorting\r');
    await t.waitForText('zzz-big.txt');
    const order = (s: string): string[] =>
      s
        .split('\n')
        .map((l) => /(aaa-small|zzz-big)/.exec(l)?.[1])
        .filter((n): n is string => n !== undefined);
    expect(order(t.text())).to.deep.equal(['aaa-small', 'zzz-big']);
    t.write('\x13');
    await t.waitForText('[size]');
    expect(order(t.text())).to.deep.equal(['zzz-big', 'aaa-small']);
    t.write('\x16');
    await t.waitForText('[size rev]');
    expect(order(t.text())).to.deep.equal(['aaa-small', 'zzz-big']);
    t.write('\x13');
    await t.waitForText('[time rev]');
    expect(order(t.text())).to.deep.equal(['aaa-small', 'zzz-big']);
    t.write('\x16');
    await t.waitFor('newest first', (s) => s.includes('[time]') && !s.includes('[time rev]'));
    expect(order(t.text())).to.deep.equal(['zzz-big', 'aaa-small']);
    t.write('q');
    expect((await t.exited).exitCode).to.equal(0);
  });

  it('shows a file with F3 and edits a remote one with F4, uploading it back', async () => {
    await fsp.mkdir(remote('edit'));
    await fsp.writeFile(remote('edit/notes.txt'), 'first line\n');
    // The "editor" appends a line to the file it is given, as a user saving would.
    const editor = path.join(work, 'append-editor.sh');
    await fsp.writeFile(editor, '#!/bin/sh\necho "added by the editor" >> "$1"\n', { mode: 0o755 });
    const t = await start({ editor });
    t.write('cd edit\r');
    await t.waitForText('notes.txt');
    t.write(`${KEYS.down}\x1bOR`);
    await t.waitFor(
      'the file in a popup',
      (s) => s.includes('first line') && s.includes('Esc close'),
    );
    t.write(KEYS.escape);
    await t.waitFor('the popup to close', (s) => !s.includes('first line'));
    t.write('\x1bOS');
    await t.waitForText(/put notes\.txt \(edited\): done, sent 20 bytes/);
    expect(await fsp.readFile(remote('edit/notes.txt'), 'utf8')).to.equal(
      'first line\nadded by the editor\n',
    );
    t.write('q');
    expect((await t.exited).exitCode).to.equal(0);
  });
});
