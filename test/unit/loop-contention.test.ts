import { expect } from 'chai';
import { LoopContention, readOwnWaitNs } from '../../src/vfs/loop-contention';

describe('event-loop contention', function () {
  it('reads this thread’s run-queue wait from the kernel', function () {
    if (process.platform !== 'linux') this.skip();
    const wait = readOwnWaitNs();
    expect(wait).to.be.a('number');
    expect(wait).to.be.at.least(0);
  });

  it('turns on from the threshold share of waiting, and off below it', function () {
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
    now += 100e6;
    wait += 5e6; // 5% of the interval
    c.sample();
    expect(c.contended).to.equal(false);
    now += 100e6;
    wait += 10e6; // 10%
    c.sample();
    expect(c.contended).to.equal(true);
    now += 100e6;
    wait += 40e6;
    c.sample();
    now += 100e6;
    c.sample();
    expect(c.contended).to.equal(false);
    expect(changes).to.deep.equal([true, false]);
    c.stop();
  });

  it('ends as uncontended when stopped, and never starts without a counter', function () {
    let wait = 0;
    let now = 0;
    const changes: boolean[] = [];
    const c = new LoopContention({
      intervalMs: 60_000,
      readWaitNs: () => wait,
      nowNs: () => now,
      onChange: (v) => changes.push(v),
    });
    c.start();
    now += 1e6;
    wait += 1e6;
    c.sample();
    c.stop();
    expect(changes).to.deep.equal([true, false]);
    const none = new LoopContention({ readWaitNs: () => undefined, onChange: () => undefined });
    none.start();
    expect(none.contended).to.equal(false);
    none.stop();
  });
});
