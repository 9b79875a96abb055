import { expect } from 'chai';
import { hashPassword, PasswordHasher, verifyPassword } from '../../src/auth/passwords';

const FAST_ARGON2 = { memoryKiB: 19456, timeCost: 1, parallelism: 1 };

describe('auth', () => {
  describe('passwords', () => {
    it('hashes with argon2id and verifies the same password', async () => {
      const hash = await hashPassword('correct horse', FAST_ARGON2);
      expect(hash).to.match(/^\$argon2id\$v=19\$/);
      expect(hash.split('$')[3]?.split(',').sort()).to.deep.equal(['m=19456', 'p=1', 't=1']);
      expect(await verifyPassword(hash, 'correct horse')).to.equal(true);
      expect(await verifyPassword(hash, 'correct horse ')).to.equal(false);
    });

    it('salts every hash', async () => {
      const a = await hashPassword('same', FAST_ARGON2);
      const b = await hashPassword('same', FAST_ARGON2);
      expect(a).to.not.equal(b);
    });

    it('answers false, not an exception, for a malformed hash', async () => {
      for (const hash of [
        '',
        'not a hash',
        '$argon2id$v=19$m=19456,t=1,p=1$broken',
        '$2b$10$abc',
      ]) {
        expect(await verifyPassword(hash, 'x'), hash).to.equal(false);
      }
    });

    it('PasswordHasher hashes with its parameters and dummyVerify resolves false', async () => {
      const hasher = new PasswordHasher(FAST_ARGON2);
      const hash = await hasher.hash('secret');
      expect(hash).to.contain('m=19456,');
      expect(await hasher.verify(hash, 'secret')).to.equal(true);
      expect(await hasher.verify(hash, 'other')).to.equal(false);

      const results = await Promise.all([
        hasher.dummyVerify('secret'),
        hasher.dummyVerify(''),
        hasher.dummyVerify('x'),
      ]);
      expect(results).to.deep.equal([false, false, false]);
    });
  });
});
