import { expect } from 'chai';
import { ProgressReporter, type TransferProgress } from '../../src/client/progress';

describe('transfer progress', () => {
  it('throttles reports, always sends the first and last, and measures the rate', () => {
    let now = 0;
    const seen: TransferProgress[] = [];
    const p = new ProgressReporter({
      total: 1000,
      resumedFrom: 100,
      listener: (e) => seen.push(e),
      intervalMs: 100,
      now: () => now,
    });
    p.start();
    for (let i = 0; i < 9; i++) {
      now += 50;
      p.add(100);
    }
    p.finish();
    // First at start, then every other add (100 ms apart), then the final one.
    expect(seen.map((e) => e.transferred)).to.deep.equal([100, 300, 500, 700, 900, 1000]);
    expect(seen[1]).to.include({ total: 1000, resumedFrom: 100, bytesPerSecond: 2000 });
    expect(seen[1]?.etaSeconds).to.equal(0.35);
    expect(seen[0]?.etaSeconds).to.equal(null);
    expect(seen[seen.length - 1]?.etaSeconds).to.equal(0);
  });
});
