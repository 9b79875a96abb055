import { expect } from 'chai';
import { parseAuthorizedKey } from '../../src/auth/public-keys';
import { generateKeyPair } from '../../src/auth/keygen';

describe('auth', () => {
  describe('key generation', () => {
    it('never hands out an ed25519 pair that cannot be read back', () => {
      // ssh2's generator writes an unreadable key about once in 256; 2000 tries
      // would meet one with near certainty if it were passed through.
      for (let i = 0; i < 2000; i++) {
        const pair = generateKeyPair('ed25519');
        expect(parseAuthorizedKey(pair.public).algo).to.equal('ssh-ed25519');
      }
    });
  });
});
