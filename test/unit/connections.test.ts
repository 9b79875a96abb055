import { expect } from 'chai';
import { clipForLog, startupDropChance } from '../../src/ssh/connections';

describe('auth', () => {
  describe('admission', () => {
    it("drops new unauthenticated connections as OpenSSH's MaxStartups start:rate:full", () => {
      expect(startupDropChance(9, 10, 30, 100)).to.equal(0);
      expect(startupDropChance(10, 10, 30, 100)).to.be.closeTo(0.3, 1e-9);
      expect(startupDropChance(55, 10, 30, 100)).to.be.closeTo(0.65, 1e-9);
      expect(startupDropChance(100, 10, 30, 100)).to.equal(1);
      expect(startupDropChance(150, 10, 30, 100)).to.equal(1);
      // A start at or above full: nothing is dropped at random, all at full.
      expect(startupDropChance(5, 10, 30, 5)).to.equal(1);
      expect(startupDropChance(4, 10, 30, 5)).to.equal(0);
    });

    it('cuts long client strings for the log, saying how much was cut', () => {
      expect(clipForLog('zhangsan')).to.equal('zhangsan');
      expect(clipForLog('a'.repeat(64))).to.equal('a'.repeat(64));
      expect(clipForLog('a'.repeat(5000))).to.equal(
        `${'a'.repeat(64)}…[cut, 4936 more characters]`,
      );
    });
  });
});
