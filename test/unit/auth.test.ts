import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { MiniftpError } from '../../src/errors';
import { hashPassword, PasswordHasher, verifyPassword } from '../../src/auth/passwords';
import { keyMatches, parseAuthorizedKey } from '../../src/auth/public-keys';
import { LoginThrottle } from '../../src/auth/throttle';
import { generateKeyPair } from '../../src/auth/keygen';
import { startupDropChance } from '../../src/ssh/admission';
import { clipForLog } from '../../src/ssh/log-clip';

const FAST_ARGON2 = { memoryKiB: 19456, timeCost: 1, parallelism: 1 };

function expectInvalid(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a MiniftpError').to.be.instanceOf(MiniftpError);
  expect((caught as MiniftpError).kind).to.equal('invalid');
  expect((caught as MiniftpError).message).to.match(message);
}

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

  describe('public keys', () => {
    let dir: string;

    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniftp-auth-'));
    });

    after(() => {
      fs.rmSync(dir, { recursive: true, force: true });
    });

    function sshKeygenFingerprint(publicLine: string): string {
      const file = path.join(dir, 'key.pub');
      fs.writeFileSync(file, `${publicLine}\n`);
      const out = execFileSync('/usr/bin/ssh-keygen', ['-l', '-f', file], { encoding: 'utf8' });
      const fingerprint = out.split(/\s+/)[1];
      if (fingerprint === undefined) throw new Error(`unexpected ssh-keygen output: ${out}`);
      return fingerprint;
    }

    const cases = [
      {
        label: 'ed25519',
        make: () => generateKeyPair('ed25519', { comment: 'me@laptop' }),
      },
      {
        label: 'rsa',
        make: () => generateKeyPair('rsa', { bits: 2048, comment: 'rsa key' }),
      },
      { label: 'ecdsa p256', make: () => generateKeyPair('ecdsa', { bits: 256 }) },
      { label: 'ecdsa p384', make: () => generateKeyPair('ecdsa', { bits: 384 }) },
      { label: 'ecdsa p521', make: () => generateKeyPair('ecdsa', { bits: 521 }) },
    ];

    for (const { label, make } of cases) {
      it(`parses a ${label} key with the fingerprint ssh-keygen prints`, () => {
        const pair = make();
        const parsed = parseAuthorizedKey(pair.public);
        const [type, data] = pair.public.split(' ');
        expect(parsed.algo).to.equal(type);
        expect(parsed.data).to.equal(data);
        expect(parsed.fingerprint).to.match(/^SHA256:[A-Za-z0-9+/]{43}$/);
        expect(parsed.fingerprint).to.equal(sshKeygenFingerprint(pair.public));
      });
    }

    it('keeps the comment and tolerates surrounding whitespace', () => {
      const pair = generateKeyPair('ed25519', { comment: 'alice at home' });
      const parsed = parseAuthorizedKey(`  ${pair.public}  \n`);
      expect(parsed.comment).to.equal('alice at home');
      expect(parsed.algo).to.equal('ssh-ed25519');

      const bare = parseAuthorizedKey(pair.public.split(' ').slice(0, 2).join(' '));
      expect(bare.comment).to.equal('');
      expect(bare.fingerprint).to.equal(parsed.fingerprint);
    });

    it('accepts an RSA key written with an rsa-sha2 algorithm name', () => {
      const pair = generateKeyPair('rsa', { bits: 2048 });
      const parsed = parseAuthorizedKey(pair.public.replace(/^ssh-rsa/, 'rsa-sha2-512'));
      expect(parsed.algo).to.equal('ssh-rsa');
      expect(parsed.fingerprint).to.equal(parseAuthorizedKey(pair.public).fingerprint);
    });

    it('rejects a private key, with a clear message', () => {
      const pair = generateKeyPair('ed25519');
      expectInvalid(
        () => parseAuthorizedKey(pair.private),
        /^not an SSH public key: .*private key/,
      );
    });

    it('rejects garbage and damaged keys', () => {
      const pair = generateKeyPair('ed25519');
      const [type, data] = pair.public.split(' ');
      const damaged = `${type} ${(data ?? '').slice(0, -8)}`;
      for (const line of [
        '',
        'hello world',
        '-----BEGIN OPENSSH PRIVATE KEY-----',
        'ssh-ed25519 !!!notbase64',
        damaged,
        `ssh-rsa ${data}`,
        `from="10.0.0.1" ${pair.public}`,
      ]) {
        expectInvalid(() => parseAuthorizedKey(line), /^not an SSH public key: /);
      }
      expectInvalid(
        () => parseAuthorizedKey(`command="/bin/sh" ${pair.public}`),
        /^not an SSH public key: options in front of the key type .* are not supported/,
      );
      expectInvalid(
        () => parseAuthorizedKey('-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAA'),
        /^not an SSH public key: this is a private key; paste the .pub file instead$/,
      );
    });

    it('matches an offered key by its blob', () => {
      const mine = parseAuthorizedKey(generateKeyPair('ed25519').public);
      const other = parseAuthorizedKey(generateKeyPair('ed25519').public);
      const blob = Buffer.from(mine.data, 'base64');

      expect(keyMatches(mine, { algo: 'ssh-ed25519', data: blob })).to.equal(true);
      expect(keyMatches(other, { algo: 'ssh-ed25519', data: blob })).to.equal(false);
      expect(keyMatches(mine, { algo: 'ssh-rsa', data: blob })).to.equal(false);
      expect(keyMatches(mine, { algo: 'ssh-ed25519', data: blob.subarray(1) })).to.equal(false);
    });

    it('matches an RSA key offered under an rsa-sha2 name', () => {
      const rsa = parseAuthorizedKey(generateKeyPair('rsa', { bits: 2048 }).public);
      const blob = Buffer.from(rsa.data, 'base64');
      expect(keyMatches(rsa, { algo: 'rsa-sha2-256', data: blob })).to.equal(true);
      expect(keyMatches(rsa, { algo: 'ssh-rsa', data: blob })).to.equal(true);
    });
  });

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
