import { expect } from 'chai';
import { LoopContention, readOwnWaitNs } from '../../src/uploads/loop-contention';

/** A sampler on a made-up clock: `step` moves time and the wait counter on, then samples. */
function fakeSampler(): {
  c: LoopContention;
  changes: boolean[];
  step(ms: number, waitedMs: number): void;
} {
  let wait = 0;
  let now = 0;
  const changes: boolean[] = [];
  const c = new LoopContention({
    intervalMs: 60_000,
    threshold: 0.1,
    readWaitNs: () => wait,
    nowNs: () => now,
    onChange: (v) => changes.push(v),
  });
  c.start();
  return {
    c,
    changes,
    step(ms, waitedMs) {
      now += ms * 1e6;
      wait += waitedMs * 1e6;
      c.sample();
    },
  };
}

describe('event-loop contention', function () {
  it('reads this thread’s run-queue wait from the kernel', function () {
    if (process.platform !== 'linux') this.skip();
    const wait = readOwnWaitNs();
    expect(wait).to.be.a('number');
    expect(wait).to.be.at.least(0);
  });

  it('turns on from the threshold share of waiting, and off below it', function () {
    const f = fakeSampler();
    f.step(100, 5);
    expect(f.c.contended).to.equal(false);
    f.step(100, 10);
    expect(f.c.contended).to.equal(true);
    f.step(100, 40);
    f.step(100, 0);
    expect(f.c.contended).to.equal(false);
    expect(f.changes).to.deep.equal([true, false]);
    f.c.stop();
  });

  it('ends as uncontended when stopped, and never starts without a counter', function () {
    const f = fakeSampler();
    f.step(1, 1);
    f.c.stop();
    expect(f.changes).to.deep.equal([true, false]);
    const none = new LoopContention({ readWaitNs: () => undefined, onChange: () => undefined });
    none.start();
    expect(none.contended).to.equal(false);
    none.stop();
  });
});
