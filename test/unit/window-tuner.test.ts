/** Sizing a receive window to its link: the tuner's epochs against a clock of the test's own. */
import { expect } from 'chai';
import { RoundTrip } from '../../src/util/round-trip';
import { WindowTuner } from '../../src/util/window-tuner';

const MiB = 1024 * 1024;
const CHUNK = 32 * 1024;

/** A tuner on a clock the test moves, with a round trip of `rtt` ms (undefined: none seen). */
function tuner(
  rtt: number | undefined,
  ceiling = 64 * MiB,
): { t: WindowTuner; clock: { ms: number } } {
  const clock = { ms: 1000 };
  const t = new WindowTuner({
    floor: 2 * MiB,
    ceiling: () => ceiling,
    roundTripMs: () => rtt,
    now: () => clock.ms,
  });
  return { t, clock };
}

/** One window's worth of `t.target` bytes arriving evenly over `ms`, `unread` waiting each time. */
function epoch(t: WindowTuner, clock: { ms: number }, ms: number, unread = CHUNK): void {
  const chunks = Math.ceil(t.target / CHUNK);
  const first = clock.ms;
  for (let i = 0; i < chunks; i++) {
    clock.ms = first + (ms * (i + 1)) / chunks;
    t.arrived(CHUNK, unread);
  }
}

describe('window tuner', () => {
  it('starts at the floor and stays there while no round trip is known', () => {
    const { t, clock } = tuner(undefined);
    expect(t.target).to.equal(2 * MiB);
    for (let i = 0; i < 5; i++) epoch(t, clock, 10);
    expect(t.target).to.equal(2 * MiB);
  });

  it('doubles while a whole window arrives within about a round trip, up to the ceiling', () => {
    const { t, clock } = tuner(40, 16 * MiB);
    const seen = [t.target];
    for (let i = 0; i < 5; i++) {
      epoch(t, clock, 40);
      seen.push(t.target);
    }
    expect(seen.map((s) => s / MiB)).to.deep.equal([2, 4, 8, 16, 16, 16]);
  });

  it('does not grow while the reader falls behind (a quarter of the window unread)', () => {
    const { t, clock } = tuner(40);
    for (let i = 0; i < 3; i++) epoch(t, clock, 40, MiB);
    expect(t.target).to.equal(2 * MiB);
  });

  it('keeps its size while a window takes between 1.5 and 4 round trips', () => {
    const { t, clock } = tuner(40);
    epoch(t, clock, 40);
    epoch(t, clock, 40);
    expect(t.target).to.equal(8 * MiB);
    for (let i = 0; i < 4; i++) epoch(t, clock, 100);
    expect(t.target).to.equal(8 * MiB);
  });

  it('shrinks to twice what arrives per round trip when a window takes four round trips or more', () => {
    const { t, clock } = tuner(40);
    epoch(t, clock, 40);
    epoch(t, clock, 40);
    epoch(t, clock, 40);
    expect(t.target).to.equal(16 * MiB);
    // 16 MiB over 320 ms: 2 MiB per round trip. The epoch ends at 162 ms (4 round
    // trips and the slack) with about 8 MiB in: twice 2 MiB is 4 MiB.
    epoch(t, clock, 320);
    expect(t.target / MiB).to.be.closeTo(4, 0.1);
    // At that size a window takes two round trips: it stays.
    epoch(t, clock, 80);
    epoch(t, clock, 80);
    expect(t.target / MiB).to.be.closeTo(4, 0.1);
  });

  it('drops to the floor at once when the stream all but stops', () => {
    const { t, clock } = tuner(40);
    epoch(t, clock, 40);
    epoch(t, clock, 40);
    epoch(t, clock, 40);
    expect(t.target).to.equal(16 * MiB);
    // A chunk every 200 ms: each arrival ends a slow epoch.
    for (let i = 0; i < 3; i++) {
      clock.ms += 200;
      t.arrived(CHUNK, CHUNK);
    }
    expect(t.target).to.equal(2 * MiB);
  });

  it('does not count a pause before the first bytes of an epoch', () => {
    const { t, clock } = tuner(40);
    epoch(t, clock, 40);
    expect(t.target).to.equal(4 * MiB);
    clock.ms += 10_000;
    epoch(t, clock, 40);
    expect(t.target).to.equal(8 * MiB);
  });
});

describe('round trip', () => {
  it('keeps the least sample, and counts only answers to something sent', () => {
    let now = 0;
    const r = new RoundTrip(() => now);
    r.heard();
    expect(r.ms).to.equal(undefined);
    r.sent();
    now = 50;
    r.heard();
    now = 60;
    r.heard();
    expect(r.ms).to.equal(50);
    r.sent();
    now = 100;
    r.heard();
    expect(r.ms).to.equal(40);
    r.sent();
    now = 300;
    r.heard();
    expect(r.ms).to.equal(40);
  });
});
