/**
 * The terminal client's queue in a pseudo-terminal: the question about a file
 * at the destination (overwrite, continue, skip, rename, each for all), the
 * queue keys (Ctrl-X, Ctrl-P), --parallel, and a quota refusal in the middle
 * of an upload (the quota lowered through the admin console).
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { sha256File, writeRandomFile } from '../helpers/files';
import { haveOpenSsh, sshExec } from '../helpers/openssh';
import { KEYS, PtyTerminal } from '../helpers/pty-terminal';
import { startTestServer, type TestServer } from '../helpers/server';

const BIN = path.resolve(__dirname, '../../../bin/miniftp.js');
const KiB = 1024;
const MiB = 1024 * 1024;
const CTRL_X = '\x18';
const CTRL_P = '\x10';
const ADMIN = { user: 'admin', password: 'password' };
/** The upload the quota stops. */
const QUOTA_FILE = 8 * MiB;

describe('client full screen: the queue', function () {
  this.timeout(60_000);
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

  /** The client in a UTF-8 pty (100x30 unless told), logged in, with its panes drawn. */
  const start = async (args: string[] = [], cols = 100): Promise<PtyTerminal> => {
    term = new PtyTerminal(
      process.execPath,
      [
        BIN,
        '--accept-new-host-key',
        '--known-hosts',
        path.join(work, `known_hosts_${runs++}`),
        ...args,
        `zhangsan@127.0.0.1:${server.port}`,
      ],
      {
        cwd: local,
        cols,
        rows: 30,
        env: {
          PATH: process.env.PATH,
          HOME: home,
          TERM: 'xterm-256color',
          LANG: 'C.UTF-8',
          LC_ALL: 'C.UTF-8',
          MINIFTP_PASSWORD: '123',
        },
      },
    );
    await term.waitForText('type a command (help lists them)');
    return term;
  };

  const quit = async (t: PtyTerminal): Promise<void> => {
    t.write('q');
    expect((await t.exited).exitCode).to.equal(0);
  };

  /** A local file and, on the server, its first `head` bytes. */
  const partialUpload = async (name: string, size: number, head: number): Promise<void> => {
    await writeRandomFile(path.join(local, name), size);
    const fh = await fsp.open(path.join(local, name), 'r');
    try {
      const buf = Buffer.alloc(head);
      await fh.read(buf, 0, head, 0);
      await fsp.writeFile(remote(name), buf);
    } finally {
      await fh.close();
    }
  };

  before(async () => {
    server = await startTestServer();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-client-tui-queue-'));
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

  describe('a file at the destination', () => {
    it('asks before continuing a shorter copy, and continue sends only the rest, both ways', async () => {
      await partialUpload('part.bin', 2 * MiB, MiB);
      const t = await start();
      t.write('put part.bin\r');
      await t.waitForText('another file of that name is on the server');
      expect(t.text()).to.include('[c] continue (resume)');
      expect(t.text()).to.include('O C S R: the same for all the rest');
      t.write('c');
      await t.waitForText(
        /put part\.bin: done, sent 1048576 bytes \(1\.00 MiB\), resumed from 1048576, MD5 verified/,
      );
      expect(await sha256File(remote('part.bin'))).to.equal(
        await sha256File(path.join(local, 'part.bin')),
      );

      // The same for a download: the local file holds the server's first half.
      await writeRandomFile(remote('down.bin'), 2 * MiB);
      const whole = await fsp.readFile(remote('down.bin'));
      await fsp.writeFile(path.join(local, 'down.bin'), whole.subarray(0, MiB));
      t.write('get down.bin\r');
      await t.waitForText('another file of that name is here');
      t.write('c');
      await t.waitForText(/get down\.bin: done, received 1048576 bytes .*resumed from 1048576/);
      expect((await fsp.readFile(path.join(local, 'down.bin'))).equals(whole)).to.equal(true);
      await quit(t);
    });

    it('continue for all continues proven copies; where the start differs it says so and asks without continue', async () => {
      await fsp.mkdir(path.join(local, 'many'));
      await fsp.mkdir(remote('many'));
      for (const n of ['a.bin', 'b.bin']) await partialUpload(`many/${n}`, 2 * MiB, 512 * KiB);
      // c.bin's start on the server is another file's.
      await writeRandomFile(path.join(local, 'many/c.bin'), 2 * MiB);
      await writeRandomFile(remote('many/c.bin'), 512 * KiB);
      const before = await sha256File(remote('many/c.bin'));
      const t = await start();
      t.write('lcd many\r');
      await t.waitForText(/local folder: .*many/);
      t.write('cd many\r');
      await t.waitForText('remote folder: /many');
      t.write('put *.bin\r');
      await t.waitForText('put a.bin: another file of that name is on the server');
      t.write('C');
      // b.bin is continued without a question; c.bin's refusal asks again.
      await t.waitForText('Overwrite it, skip, or keep both (rename)?');
      const screen = t.text();
      expect(screen).to.match(/put c\.bin: resume refused/);
      expect(screen).not.to.include('[c] continue');
      expect(await sha256File(remote('many/c.bin'))).to.equal(before);
      t.write('o');
      await t.waitForText(/transfers ended: 3 done/);
      for (const n of ['a.bin', 'b.bin', 'c.bin']) {
        expect(await sha256File(remote(`many/${n}`)), n).to.equal(
          await sha256File(path.join(local, 'many', n)),
        );
      }
      await quit(t);
    });

    it('continue on a file that is not shorter says it cannot be its start, then skip keeps it', async () => {
      await writeRandomFile(path.join(local, 'long.bin'), 100 * KiB);
      await writeRandomFile(remote('long.bin'), 200 * KiB);
      const before = await sha256File(remote('long.bin'));
      const t = await start();
      t.write('put long.bin\r');
      await t.waitForText('another file of that name is on the server');
      t.write('c');
      await t.waitForText('Overwrite it, skip, or keep both (rename)?');
      expect(t.text()).to.include('resume refused: larger than yours: 204800 of 102400 bytes');
      t.write('s');
      await t.waitForText('put long.bin: skipped, the destination was kept');
      expect(await sha256File(remote('long.bin'))).to.equal(before);
      await quit(t);
    });
  });

  describe('queue keys and --parallel', () => {
    it('Ctrl-X cancels the running transfer', async () => {
      await writeRandomFile(path.join(local, 'cancel.bin'), 8 * MiB);
      // 4 Mbit/s: the upload would take about 16 s.
      const t = await start(['-l', '4000']);
      t.write('put cancel.bin\r');
      await t.waitForText(/#\d+ put cancel\.bin \[/);
      t.write(CTRL_X);
      await t.waitForText('Cancel transfer number (or "all"):');
      t.write(KEYS.enter);
      await t.waitForText('put cancel.bin: cancelled');
      await t.waitFor(
        'the title to show no transfer',
        (s) => !/\d+ running/.test(s.split('\n')[0] ?? ''),
      );
      await quit(t);
    });

    it('Ctrl-P pauses the queue: a new transfer waits, and starts once it goes on', async () => {
      await writeRandomFile(path.join(local, 'paused.bin'), 64 * KiB);
      const t = await start();
      t.write(CTRL_P);
      await t.waitForText('the queue is paused: Ctrl-P goes on');
      t.write('put paused.bin\r');
      await t.waitForText(/#\d+ put paused\.bin queued/);
      expect(t.text().split('\n')[0]).to.include('PAUSED');
      expect(await exists(remote('paused.bin'))).to.equal(false);
      t.write(CTRL_P);
      await t.waitForText('the queue goes on');
      await t.waitForText(/put paused\.bin: done, sent 65536 bytes/);
      expect(await sha256File(remote('paused.bin'))).to.equal(
        await sha256File(path.join(local, 'paused.bin')),
      );
      await quit(t);
    });

    it('--parallel 2 runs two transfers at once', async () => {
      for (const n of ['twin1.bin', 'twin2.bin', 'twin3.bin']) {
        await writeRandomFile(path.join(local, n), 8 * MiB);
      }
      const t = await start(['--parallel', '2', '-l', '4000']);
      t.write('put twin?.bin\r');
      // Two running lines at once, the third waiting, and the title counting them.
      await t.waitFor(
        'two running lines',
        (s) =>
          /#\d+ put twin1\.bin \[/.test(s) &&
          /#\d+ put twin2\.bin \[/.test(s) &&
          /#\d+ put twin3\.bin queued/.test(s) &&
          (s.split('\n')[0] ?? '').includes('2 running, 1 queued'),
      );
      t.write(CTRL_X);
      await t.waitForText('Cancel transfer number (or "all"):');
      t.write(`${KEYS.backspace}all\r`);
      await t.waitForText(/transfers ended: 0 done, 3 cancelled/);
      await quit(t);
    });
  });

  describe('a quota refusal in the middle of an upload', () => {
    const setQuota = async (bytes: number): Promise<void> => {
      await server.store.users.setQuota('zhangsan', bytes);
      await server.quota.refreshLimits('zhangsan');
    };
    let original = 0;

    before(async function () {
      if (!(await haveOpenSsh())) this.skip();
      original = (await server.store.users.get('zhangsan'))?.quotaBytes ?? 0;
    });

    afterEach(() => setQuota(original));

    /** Starts a slow upload, lowers the quota through the console, waits for the question. */
    const refuse = async (name: string): Promise<PtyTerminal> => {
      await writeRandomFile(path.join(local, name), QUOTA_FILE);
      // 8 Mbit/s: about 8 s for the whole file, time enough for the console
      // command; the quota stops the upload about 256 KiB after it.
      // Wide enough for the log line about the partial file.
      const t = await start(['-l', '8000'], 160);
      t.write(`put ${name}\r`);
      await t.waitForText(new RegExp(`#\\d+ put ${name.replace('.', '\\.')} \\[.*\\] +[1-9]\\d*%`));
      // The room check passed; now the quota leaves about 256 KiB more.
      const limit = Math.ceil(((await server.quota.get('zhangsan')).bytes + 256 * KiB) / KiB);
      const run = await sshExec(server.port, ADMIN, ['quota', 'zhangsan', `${limit}K`]);
      expect(run.code, run.stderr).to.equal(0);
      await t.waitForText('Remove the partial file now?');
      expect(t.text()).to.match(
        /a partial file of [\d.]+ [KM]iB was kept on the server; a later put of the same file resumes it/,
      );
      return t;
    };

    it('removes the partial file when told to', async () => {
      const t = await refuse('quota-yes.bin');
      t.write('y');
      await t.waitForText('quota-yes.bin: the partial file was removed');
      expect(await exists(remote('quota-yes.bin'))).to.equal(false);
      await quit(t);
    });

    it('keeps the partial file otherwise, and a later put continues it', async () => {
      const t = await refuse('quota-no.bin');
      t.write('n');
      await t.waitFor('the question to close', (s) => !s.includes('Remove the partial file now?'));
      const kept = (await fsp.stat(remote('quota-no.bin'))).size;
      expect(kept).to.be.above(0).and.below(QUOTA_FILE);
      await quit(t);
      await setQuota(original);
      // A new client, without the bandwidth limit, continues the kept file.
      term?.dispose();
      const again = await start();
      again.write('put quota-no.bin\r');
      await again.waitForText('put quota-no.bin: another file of that name is on the server');
      again.write('c');
      await again.waitForText(
        new RegExp(`put quota-no\\.bin: done, sent \\d+ bytes .*resumed from ${kept}`),
      );
      expect(await sha256File(remote('quota-no.bin'))).to.equal(
        await sha256File(path.join(local, 'quota-no.bin')),
      );
      await quit(again);
    });
  });
});
