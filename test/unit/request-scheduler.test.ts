/**
 * The request scheduler alone, without a channel or a filesystem: replies in
 * request order, barriers for requests that change something, flow control
 * by requests and by bytes pending and by a full output, and the answer to a
 * request that failed.
 */
import { expect } from 'chai';
import { PacketWriter } from '../../src/sftp/codec';
import { Ext, OpenFlag, PacketType } from '../../src/sftp/constants';
import {
  RequestScheduler,
  waitsForEarlier,
  type ScheduledRequest,
  type SchedulerLimits,
} from '../../src/sftp/request-scheduler';

/** A request whose `run` starts when called and finishes when the test says. */
class TestRequest implements ScheduledRequest {
  started = false;
  sentCalls = 0;
  settledCalls = 0;
  private finish!: (reply: Buffer) => void;
  private failWith!: (err: unknown) => void;
  private readonly done = new Promise<Buffer>((resolve, reject) => {
    this.finish = resolve;
    this.failWith = reject;
  });

  constructor(
    readonly name: string,
    readonly barrier = false,
    readonly dataBytes = 0,
    private readonly log: string[] = [],
  ) {}

  run(): Promise<Buffer> {
    this.started = true;
    this.log.push(`run ${this.name}`);
    return this.done;
  }

  fail(err: unknown): Buffer {
    if (err instanceof Error && err.message === 'fail throws') throw err;
    return Buffer.from(`${this.name} failed: ${String(err instanceof Error ? err.message : err)}`);
  }

  internalError(): Buffer {
    return Buffer.from(`${this.name} internal error`);
  }

  sent(): void {
    this.sentCalls++;
    this.log.push(`sent ${this.name}`);
  }

  settled(): void {
    this.settledCalls++;
    this.log.push(`settled ${this.name}`);
  }

  answer(): void {
    this.finish(Buffer.from(this.name));
  }

  reject(err: unknown): void {
    this.failWith(err);
  }
}

/** What the scheduler did to its channel, as a list of events. */
function harness(limits: Partial<SchedulerLimits> = {}): {
  scheduler: RequestScheduler;
  out: string[];
  log: string[];
} {
  const out: string[] = [];
  const log: string[] = [];
  const scheduler = new RequestScheduler(
    { maxPending: 64, maxDataBytes: 1 << 20, ...limits },
    {
      send: (packet) => {
        out.push(packet.toString());
        log.push(`send ${packet.toString()}`);
      },
      pause: () => log.push('pause'),
      resume: () => log.push('resume'),
    },
  );
  return { scheduler, out, log };
}

/** Lets every promise callback already due run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('request scheduler', function () {
  it('sends replies in request order though later requests finish first', async function () {
    const { scheduler, out } = harness();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => new TestRequest(n));
    for (const r of [a, b, c]) scheduler.submit(r as TestRequest);
    expect([a, b, c].every((r) => r?.started)).to.equal(true);
    c?.answer();
    b?.answer();
    await settle();
    expect(out).to.deep.equal([]);
    a?.answer();
    await settle();
    expect(out).to.deep.equal(['a', 'b', 'c']);
    expect(scheduler.pending).to.equal(0);
  });

  it('runs a barrier only once every request before it is answered, and those after it after it', async function () {
    const { scheduler, out } = harness();
    const read = new TestRequest('read');
    const mkdir = new TestRequest('mkdir', true);
    const stat = new TestRequest('stat');
    scheduler.submit(read);
    scheduler.submit(mkdir);
    scheduler.submit(stat);
    await settle();
    expect(mkdir.started).to.equal(false);
    expect(stat.started).to.equal(false);
    read.answer();
    await settle();
    expect(mkdir.started).to.equal(true);
    expect(stat.started).to.equal(false);
    mkdir.answer();
    await settle();
    expect(stat.started).to.equal(true);
    stat.answer();
    await settle();
    expect(out).to.deep.equal(['read', 'mkdir', 'stat']);
  });

  it('runs a barrier at the head of the order at once, and lets the requests after a failed one run', async function () {
    const { scheduler, out } = harness();
    const rename = new TestRequest('rename', true);
    const stat = new TestRequest('stat');
    scheduler.submit(rename);
    expect(rename.started).to.equal(true);
    scheduler.submit(stat);
    rename.reject(new Error('refused'));
    await settle();
    expect(stat.started).to.equal(true);
    stat.answer();
    await settle();
    expect(out).to.deep.equal(['rename failed: refused', 'stat']);
  });

  it('answers a run that throws at once, and falls back to internalError when fail throws too', async function () {
    const { scheduler, out } = harness();
    const throwing: ScheduledRequest = Object.assign(new TestRequest('sync'), {
      run(): Promise<Buffer> {
        throw new Error('bad field');
      },
    });
    const failing = new TestRequest('worse');
    scheduler.submit(throwing);
    scheduler.submit(failing);
    failing.reject(new Error('fail throws'));
    await settle();
    expect(out).to.deep.equal(['sync failed: bad field', 'worse internal error']);
    expect(scheduler.pending).to.equal(0);
  });

  it('pauses at maxPending requests and resumes once one is answered', async function () {
    const { scheduler, log } = harness({ maxPending: 2 });
    const a = new TestRequest('a', false, 0, log);
    const b = new TestRequest('b', false, 0, log);
    scheduler.submit(a);
    expect(scheduler.paused).to.equal(false);
    scheduler.submit(b);
    expect(scheduler.paused).to.equal(true);
    a.answer();
    await settle();
    expect(scheduler.paused).to.equal(false);
    // The request's buffer is given back before the flow is updated; settled comes last.
    expect(log).to.deep.equal([
      'run a',
      'pause',
      'run b',
      'send a',
      'sent a',
      'resume',
      'settled a',
    ]);
    b.answer();
    await settle();
    expect(a.sentCalls + b.sentCalls).to.equal(2);
    expect(a.settledCalls + b.settledCalls).to.equal(2);
  });

  it('pauses while the bytes pending reach maxDataBytes, and counts them back when answered', async function () {
    const { scheduler } = harness({ maxDataBytes: 1000 });
    const small = new TestRequest('small', false, 600);
    const big = new TestRequest('big', false, 400);
    scheduler.submit(small);
    expect(scheduler.paused).to.equal(false);
    scheduler.submit(big);
    expect(scheduler.paused).to.equal(true);
    small.answer();
    await settle();
    expect(scheduler.paused).to.equal(false);
    big.answer();
    await settle();
    expect(scheduler.pending).to.equal(0);
  });

  it('pauses while the output is blocked, and never resumes once closed', async function () {
    const { scheduler, log } = harness();
    scheduler.setOutputBlocked(true);
    expect(scheduler.paused).to.equal(true);
    scheduler.setOutputBlocked(false);
    expect(scheduler.paused).to.equal(false);
    scheduler.setOutputBlocked(true);
    scheduler.close();
    scheduler.setOutputBlocked(false);
    expect(scheduler.paused).to.equal(true);
    expect(log).to.deep.equal(['pause', 'resume', 'pause']);
  });

  it('resolves whenIdle once the last pending request is answered', async function () {
    const { scheduler } = harness();
    await scheduler.whenIdle();
    const a = new TestRequest('a');
    scheduler.submit(a);
    let idle = false;
    void scheduler.whenIdle().then(() => (idle = true));
    await settle();
    expect(idle).to.equal(false);
    a.answer();
    await settle();
    expect(idle).to.equal(true);
  });

  describe('waitsForEarlier', function () {
    function packet(type: number, fill: (w: PacketWriter) => PacketWriter): Buffer {
      // The body from its type byte on, as the framer hands it over.
      return fill(new PacketWriter(type).u32(7)).finish().subarray(4);
    }

    it('makes requests that change names, attributes or contents barriers, and lookups not', function () {
      for (const type of [PacketType.MKDIR, PacketType.RMDIR, PacketType.REMOVE]) {
        expect(
          waitsForEarlier(
            type,
            packet(type, (w) => w.string('/d')),
          ),
        ).to.equal(true);
      }
      for (const type of [PacketType.READ, PacketType.WRITE, PacketType.STAT, PacketType.OPENDIR]) {
        expect(
          waitsForEarlier(
            type,
            packet(type, (w) => w.string('1')),
          ),
        ).to.equal(false);
      }
    });

    it('makes an OPEN a barrier only when it may write', function () {
      const open = (flags: number): Buffer =>
        packet(PacketType.OPEN, (w) => w.string('/f').u32(flags).u32(0));
      expect(waitsForEarlier(PacketType.OPEN, open(OpenFlag.READ))).to.equal(false);
      expect(waitsForEarlier(PacketType.OPEN, open(OpenFlag.WRITE | OpenFlag.CREAT))).to.equal(
        true,
      );
      expect(waitsForEarlier(PacketType.OPEN, open(OpenFlag.READ | OpenFlag.APPEND))).to.equal(
        true,
      );
    });

    it('lets lookup extensions through, and holds the others and anything malformed', function () {
      const ext = (name: string): Buffer =>
        packet(PacketType.EXTENDED, (w) => w.string(name).string('/'));
      expect(waitsForEarlier(PacketType.EXTENDED, ext(Ext.STATVFS))).to.equal(false);
      expect(waitsForEarlier(PacketType.EXTENDED, ext(Ext.LIMITS))).to.equal(false);
      expect(waitsForEarlier(PacketType.EXTENDED, ext(Ext.POSIX_RENAME))).to.equal(true);
      expect(waitsForEarlier(PacketType.EXTENDED, ext(Ext.FSYNC))).to.equal(true);
      const cut = Buffer.from([PacketType.OPEN, 0, 0, 0, 7, 0, 0]);
      expect(waitsForEarlier(PacketType.OPEN, cut)).to.equal(true);
    });
  });
});
