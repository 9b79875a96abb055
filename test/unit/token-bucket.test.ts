/** The per-user token bucket with an injected clock: no timers, no wall-clock time. */
import { expect } from 'chai';
import { BURST_SECONDS, Bandwidth, TokenBucket } from '../../src/ops/token-bucket';

describe('TokenBucket', function () {
  it('lets a burst through, then asks to wait exactly as long as the rate needs', function () {
    let now = 0;
    const rate = 1000;
    const b = new TokenBucket(rate, () => now);
    expect(b.take(rate * BURST_SECONDS)).to.equal(0);
    // 500 bytes more are 0.5 s of debt.
    expect(b.take(500)).to.equal(500);
    now += 500;
    expect(b.take(0)).to.equal(0);
    expect(b.take(100)).to.equal(100);
  });

  it('holds the average to the rate over a long transfer', function () {
    let now = 0;
    const rate = 10 * 1024 * 1024;
    const b = new TokenBucket(rate, () => now);
    const chunk = 256 * 1024;
    let sent = 0;
    // The caller waits as told before each next chunk, for 60 simulated seconds.
    while (now < 60_000) {
      now += b.take(chunk);
      sent += chunk;
    }
    const achieved = sent / (now / 1000);
    expect(Math.abs(achieved / rate - 1)).to.be.below(0.01);
    expect(b.stats.bytes).to.equal(sent);
  });

  it('is unlimited at rate 0 and takes a new rate at once', function () {
    let now = 0;
    const b = new TokenBucket(0, () => now);
    expect(b.limited).to.equal(false);
    expect(b.take(1e9)).to.equal(0);
    b.setRate(1000);
    expect(b.limited).to.equal(true);
    now += 1000;
    expect(b.take(100)).to.equal(0);
    expect(b.take(1000)).to.equal(1000);
  });

  it('is shared by the sessions of one user and updated when the limit changes', function () {
    const now = 0;
    const limits = new Map([['bob', { upBps: 1000, downBps: 0 }]]);
    const bw = new Bandwidth(
      (u) => limits.get(u) ?? { upBps: 0, downBps: 0 },
      () => now,
    );
    expect(bw.of('bob')).to.equal(bw.of('bob'));
    const up = bw.of('bob').up;
    up.take(100);
    // A second session of bob shares the debt.
    expect(bw.of('bob').up.take(500)).to.equal(500);
    limits.set('bob', { upBps: 0, downBps: 0 });
    bw.update('bob');
    expect(up.take(1e6)).to.equal(0);
    expect(bw.of('alice').up.limited).to.equal(false);
  });
});
