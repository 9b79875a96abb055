import { expect } from 'chai';
import { LoginThrottle } from '../../src/auth/throttle';

describe('auth', () => {
  describe('login throttle', () => {
    let clock: number;
    const options = { threshold: 3, windowSeconds: 60, banSeconds: 300, now: () => clock };

    beforeEach(() => {
      clock = 1_000_000;
    });

    it('bans at the threshold, only that failure reporting the ban', () => {
      const throttle = new LoginThrottle(options);
      expect(throttle.recordFailure('10.0.0.1').banned).to.equal(false);
      expect(throttle.recordFailure('10.0.0.1').banned).to.equal(false);
      expect(throttle.isBanned('10.0.0.1')).to.equal(false);
      expect(throttle.recordFailure('10.0.0.1').banned).to.equal(true);
      expect(throttle.isBanned('10.0.0.1')).to.equal(true);
      expect(throttle.bannedUntil('10.0.0.1')).to.equal(clock + 300_000);
      expect(throttle.recordFailure('10.0.0.1').banned).to.equal(false);
      expect(throttle.bannedUntil('10.0.0.1')).to.equal(clock + 300_000);
      expect(throttle.isBanned('10.0.0.2')).to.equal(false);
    });

    it('lifts the ban when it expires and starts counting afresh', () => {
      const throttle = new LoginThrottle(options);
      for (let i = 0; i < 3; i++) throttle.recordFailure('10.0.0.1');
      clock += 299_999;
      expect(throttle.isBanned('10.0.0.1')).to.equal(true);
      clock += 1;
      expect(throttle.isBanned('10.0.0.1')).to.equal(false);
      expect(throttle.bannedUntil('10.0.0.1')).to.equal(undefined);
      expect(throttle.recordFailure('10.0.0.1').banned).to.equal(false);
      expect(throttle.recordFailure('10.0.0.1').banned).to.equal(false);
      expect(throttle.recordFailure('10.0.0.1').banned).to.equal(true);
    });

    it('forgives an address only its failures for the account that then logged in', () => {
      const throttle = new LoginThrottle(options);
      throttle.recordFailure('10.0.0.1', 'bob');
      throttle.recordFailure('10.0.0.1', 'bob');
      throttle.recordSuccess('10.0.0.1', 'bob');
      expect(throttle.recordFailure('10.0.0.1', 'bob').banned).to.equal(false);
      expect(throttle.recordFailure('10.0.0.1', 'bob').banned).to.equal(false);
      expect(throttle.recordFailure('10.0.0.1', 'bob').banned).to.equal(true);
    });

    it("does not reset an address's failures for one account on a login to another", () => {
      const throttle = new LoginThrottle(options);
      throttle.recordFailure('10.0.0.1', 'zhangsan');
      throttle.recordFailure('10.0.0.1', 'zhangsan');
      throttle.recordSuccess('10.0.0.1', 'attacker');
      expect(throttle.recordFailure('10.0.0.1', 'zhangsan').banned).to.equal(true);
    });

    describe('account lock', () => {
      const locking = { ...options, threshold: 100, accountThreshold: 3, accountLockSeconds: 120 };

      it('locks an account after failures from several addresses, not for an address it logged in from', () => {
        const throttle = new LoginThrottle(locking);
        throttle.recordSuccess('10.9.9.9', 'bob');
        expect(throttle.recordFailure('10.0.0.1', 'bob').locked).to.equal(false);
        expect(throttle.recordFailure('10.0.0.2', 'bob').locked).to.equal(false);
        expect(throttle.isLocked('bob', '10.0.0.4')).to.equal(false);
        expect(throttle.recordFailure('10.0.0.3', 'bob').locked).to.equal(true);
        expect(throttle.isLocked('bob', '10.0.0.4')).to.equal(true);
        // The owner's address stays usable, and other accounts are not affected.
        expect(throttle.isLocked('bob', '10.9.9.9')).to.equal(false);
        expect(throttle.isLocked('carol', '10.0.0.4')).to.equal(false);
        clock += 120_000;
        expect(throttle.isLocked('bob', '10.0.0.4')).to.equal(false);
      });

      it('does not count failures from a known address, nor bad key signatures', () => {
        const throttle = new LoginThrottle(locking);
        throttle.recordSuccess('10.9.9.9', 'bob');
        for (let i = 0; i < 5; i++) throttle.recordFailure('10.9.9.9', 'bob');
        for (let i = 0; i < 5; i++) throttle.recordFailure(`10.0.1.${i}`, 'bob', false);
        expect(throttle.isLocked('bob', '10.0.0.4')).to.equal(false);
      });

      it('keeps no entry for names too long to be accounts', () => {
        const throttle = new LoginThrottle(locking);
        for (let i = 0; i < 5; i++) throttle.recordFailure(`10.0.2.${i}`, 'x'.repeat(5000));
        expect(throttle.accountsTracked).to.equal(0);
      });
    });

    it('only counts failures inside the window', () => {
      const throttle = new LoginThrottle(options);
      throttle.recordFailure('10.0.0.1');
      clock += 30_000;
      throttle.recordFailure('10.0.0.1');
      clock += 30_001;
      // The first failure has left the window, so this is the second, not the third.
      expect(throttle.recordFailure('10.0.0.1').banned).to.equal(false);
      expect(throttle.recordFailure('10.0.0.1').banned).to.equal(true);
    });

    it('never bans with threshold 0', () => {
      const throttle = new LoginThrottle({ ...options, threshold: 0 });
      for (let i = 0; i < 100; i++)
        expect(throttle.recordFailure('10.0.0.1').banned).to.equal(false);
      expect(throttle.isBanned('10.0.0.1')).to.equal(false);
    });

    it('bounds memory: caps tracked IPs, evicting the least recently seen', () => {
      const throttle = new LoginThrottle({ ...options, maxTracked: 100 });
      for (let i = 0; i < 3; i++) throttle.recordFailure('banned-early');
      for (let i = 0; i < 500; i++) throttle.recordFailure(`10.1.${i >> 8}.${i & 255}`);
      expect(throttle.size).to.be.at.most(100);
      expect(throttle.isBanned('banned-early')).to.equal(false);
    });

    it('sweeps expired entries', () => {
      const throttle = new LoginThrottle(options);
      for (let i = 0; i < 50; i++) throttle.recordFailure(`10.2.0.${i}`);
      for (let i = 0; i < 3; i++) throttle.recordFailure('banned');
      expect(throttle.size).to.equal(51);
      clock += 61_000;
      throttle.recordFailure('10.3.0.1');
      // The window has passed for the 50; the ban still holds, and the new failure is kept.
      expect(throttle.size).to.equal(2);
      expect(throttle.isBanned('banned')).to.equal(true);
    });
  });
});
