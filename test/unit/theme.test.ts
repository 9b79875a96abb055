import { expect } from 'chai';
import { makeTheme } from '../../src/client/ui/theme';

describe('client theme', () => {
  it('drops colours on a plain terminal or with NO_COLOR', () => {
    expect(makeTheme(256, {}).color).to.equal(true);
    expect(makeTheme(2, {}).color).to.equal(false);
    expect(makeTheme(256, { NO_COLOR: '1' }).barFull).to.equal('#');
  });
});
