/**
 * The hashing thread: digests of what is reported written, read back through
 * the caller's descriptor, and its scheduling priority (SCHED_IDLE, or nice
 * 19 without chrt, while nobody waits; normal while someone does).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { BackgroundMd5 } from '../../src/uploads/background-md5';
import { mayRestorePriority } from '../../src/uploads/thread-priority';

/** Linux's SCHED_IDLE policy number. */
const SCHED_IDLE = 5;

/** Nice value and scheduling policy of each of this process's threads (fields 19 and 41 of /proc/self/task/N/stat). */
function threads(): Array<{ nice: number; policy: number }> {
  return fs.readdirSync('/proc/self/task').map((tid) => {
    const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { nice: Number(f[16]), policy: Number(f[38]) };
  });
}

const idleThreads = (): number => threads().filter((t) => t.policy === SCHED_IDLE).length;
const nice19Threads = (): number => threads().filter((t) => t.nice === 19).length;

describe('background MD5 thread', function () {
  let dir: string;
  let bg: BackgroundMd5;

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniftp-md5-'));
    bg = new BackgroundMd5();
  });

  afterEach(async function () {
    await bg.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('hashes what is reported written, in steps, and stops at a drop', async function () {
    const data = randomBytes(1024 * 1024 + 5);
    const fd = fs.openSync(path.join(dir, 'f'), 'w+');
    fs.writeSync(fd, data);
    const id = bg.open(fd, 1000);
    expect(id).to.be.a('number');
    bg.extend(id as number, 500_000);
    bg.extend(id as number, data.length);
    const reply = await bg.finish(id as number, false);
    expect(reply.md5).to.equal(createHash('md5').update(data).digest('hex'));
    expect(reply.bytes).to.equal(data.length);
    const other = bg.open(fd, 10) as number;
    await bg.drop(other);
    expect((await bg.finish(other, false)).md5).to.equal(undefined);
    fs.closeSync(fd);
  });

  it('gives no digest when the file is shorter than reported', async function () {
    const fd = fs.openSync(path.join(dir, 'short'), 'w+');
    fs.writeSync(fd, Buffer.alloc(100));
    const id = bg.open(fd, 1000) as number;
    expect((await bg.finish(id, false)).md5).to.equal(undefined);
    fs.closeSync(fd);
  });

  /**
   * Starts `b`'s thread, then checks that `lowered()` counts it while nobody
   * waits, not while someone does, and again once the wait is over.
   */
  async function priorityCycle(b: BackgroundMd5, lowered: () => number): Promise<void> {
    const fd = fs.openSync(path.join(dir, 'p'), 'w+');
    try {
      await b.finish(b.open(fd, 0) as number, false);
      await b.prioritySettled();
      expect(lowered(), 'lowered while nobody waits').to.equal(1);
      let release: () => void = () => undefined;
      const waiting = b.hurry(new Promise<void>((resolve) => (release = resolve)));
      await b.prioritySettled();
      expect(lowered(), 'lowered while someone waits').to.equal(0);
      release();
      await waiting;
      await b.prioritySettled();
      expect(lowered(), 'lowered once the wait is over').to.equal(1);
    } finally {
      fs.closeSync(fd);
    }
  }

  it('runs as SCHED_IDLE while nobody waits and normally while someone does (with CAP_SYS_NICE)', async function () {
    // Without the right to raise it again, the thread is never lowered.
    if (!mayRestorePriority()) this.skip();
    // Without chrt the thread falls back to nice 19 (next test); here it must be there.
    expect(() => execFileSync('chrt', ['--version']), 'chrt (Debian: util-linux)').to.not.throw();
    await priorityCycle(bg, idleThreads);
    expect(nice19Threads()).to.equal(0);
  });

  it('falls back to nice 19 without chrt', async function () {
    if (!mayRestorePriority()) this.skip();
    const other = new BackgroundMd5({ chrt: path.join(dir, 'no-such-chrt') });
    try {
      await priorityCycle(other, nice19Threads);
      expect(idleThreads()).to.equal(0);
    } finally {
      await other.close();
    }
  });

  describe('while the event loop waits for a CPU', function () {
    let contended = false;
    let wait = 0;
    let held: BackgroundMd5;
    const data = randomBytes(2 * 1024 * 1024);
    let fd: number;

    beforeEach(function () {
      contended = false;
      wait = 0;
      // Every sample of a contended loop finds it waited a whole second more.
      held = new BackgroundMd5({
        contention: { intervalMs: 1, readWaitNs: () => (contended ? (wait += 1e9) : wait) },
      });
      fd = fs.openSync(path.join(dir, 'held'), 'w+');
      fs.writeSync(fd, data);
    });

    afterEach(async function () {
      await held.close();
      fs.closeSync(fd);
    });

    async function until(what: string, test: () => boolean): Promise<void> {
      for (let i = 0; i < 2000 && !test(); i++) await new Promise((r) => setImmediate(r));
      expect(test(), what).to.equal(true);
    }

    const md5 = createHash('md5').update(data).digest('hex');

    it('holds back new bytes and finishes, and sends them once the contention ends', async function () {
      const id = held.open(fd, 1000) as number;
      contended = true;
      await until('holding', () => held.holding);
      held.extend(id, data.length);
      let answered = false;
      const finished = held.finish(id, false).then((r) => {
        answered = true;
        return r;
      });
      // The thread answers in order: once a later stream's drop is answered,
      // the held finish would have been too, had it been sent.
      const other = held.open(fd, 10) as number;
      await held.drop(other);
      expect(answered, 'finish held back').to.equal(false);
      contended = false;
      const reply = await finished;
      expect(held.holding).to.equal(false);
      expect(reply.md5).to.equal(md5);
      expect(reply.bytes).to.equal(data.length);
    });

    it('sends what is held at once when someone waits for the digest', async function () {
      contended = true;
      const id = held.open(fd, 0) as number;
      // A second upload still arriving keeps the sampling going.
      const other = held.open(fd, 0) as number;
      await until('holding', () => held.holding);
      held.extend(id, data.length);
      const reply = await held.finish(id, true);
      expect(reply.md5).to.equal(md5);
      expect(held.holding, 'holding again once nobody waits').to.equal(true);
      await held.drop(other);
      expect(held.holding, 'not once the last stream ended').to.equal(false);
    });

    it('answers a held finish without a digest when the thread is stopped', async function () {
      const id = held.open(fd, 0) as number;
      contended = true;
      await until('holding', () => held.holding);
      const finished = held.finish(id, false);
      await held.close();
      expect((await finished).md5).to.equal(undefined);
    });
  });
});
