import { expect } from 'chai';
import { startupDropChance } from '../../src/ssh/admission';

describe('admission', () => {
  describe('random early drop', () => {
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
  });
});
