/**
 * The hashing thread: digests of what is reported written, read back through
 * the caller's descriptor, and its scheduling priority (nice 19 while nobody
 * waits, normal while someone does).
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { BackgroundMd5, mayRestorePriority } from '../../src/vfs/background-md5';

/** Nice values of this process's threads (field 19 of /proc/self/task/N/stat). */
function threadNices(): number[] {
  return fs.readdirSync('/proc/self/task').map((tid) => {
    const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

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

  it('runs at nice 19 while nobody waits and at 0 while someone does (with CAP_SYS_NICE)', async function () {
    // Without the right to raise it again, the thread is never lowered.
    if (!mayRestorePriority()) this.skip();
    const fd = fs.openSync(path.join(dir, 'p'), 'w+');
    const id = bg.open(fd, 0) as number;
    await bg.finish(id, false);
    expect(threadNices().filter((n) => n === 19)).to.have.length(1);
    let release: () => void = () => undefined;
    const waiting = bg.hurry(new Promise<void>((resolve) => (release = resolve)));
    expect(threadNices().filter((n) => n === 19)).to.have.length(0);
    release();
    await waiting;
    expect(threadNices().filter((n) => n === 19)).to.have.length(1);
    fs.closeSync(fd);
  });
});
