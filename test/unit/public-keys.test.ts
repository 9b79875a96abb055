import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { MiniftpError } from '../../src/errors';
import { generateKeyPair } from '../../src/auth/keygen';
import { keyMatches, parseAuthorizedKey } from '../../src/auth/public-keys';

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
});
