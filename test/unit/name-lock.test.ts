import { expect } from 'chai';
import { heldNameLocks, withNameLock } from '../../src/vfs/name-lock';

describe('withNameLock', function () {
  it('runs the name changes of one home one at a time, in order, and other homes at once', async function () {
    const order: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = withNameLock('/h1', async () => {
      order.push('first starts');
      await gate;
      order.push('first ends');
    });
    const second = withNameLock('/h1', async () => {
      order.push('second');
    });
    const thirdFails = withNameLock('/h1', async () => {
      order.push('third');
      throw new Error('refused');
    });
    const fourth = withNameLock('/h1', async () => {
      order.push('fourth');
    });
    // Another home does not wait for the first.
    await withNameLock('/h2', async () => {
      order.push('other home');
    });
    release();
    await Promise.all([first, second, fourth, thirdFails.catch(() => undefined)]);
    expect(order).to.deep.equal([
      'first starts',
      'other home',
      'first ends',
      'second',
      'third',
      'fourth',
    ]);
    expect(heldNameLocks()).to.equal(0);
  });
});
