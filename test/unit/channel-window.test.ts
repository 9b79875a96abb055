/** The server's channel windows: the budget from the setting, and each channel's share. */
import { expect } from 'chai';
import { ChannelWindows, FLOOR, windowBudget } from '../../src/ssh/channel-window';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('channel windows', () => {
  it('takes the budget as set, or 1/64 of the memory from 32 MiB to 128 MiB for 0', () => {
    expect(windowBudget(48 * MiB, 24 * GiB)).to.equal(48 * MiB);
    expect(windowBudget(0, 1 * GiB)).to.equal(32 * MiB);
    expect(windowBudget(0, 4 * GiB)).to.equal(64 * MiB);
    expect(windowBudget(0, 24 * GiB)).to.equal(128 * MiB);
  });

  it('shares the budget equally among the channels open, between 2 MiB and the window', () => {
    const w = new ChannelWindows({ window: 32 * MiB, budget: 128 * MiB });
    expect(w.share(1)).to.equal(32 * MiB);
    expect(w.share(4)).to.equal(32 * MiB);
    expect(w.share(8)).to.equal(16 * MiB);
    expect(w.share(50)).to.equal(Math.floor((128 * MiB) / 50));
    expect(w.share(100)).to.equal(FLOOR);
  });

  it('gives every channel the whole window when there is no budget', () => {
    const w = new ChannelWindows({ window: 64 * MiB, budget: 0 });
    expect(w.share(1000)).to.equal(64 * MiB);
  });
});
