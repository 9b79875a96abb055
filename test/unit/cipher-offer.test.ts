/**
 * The per-connection cipher offer: which identification lines count as an
 * OpenSSH with AES-GCM, and how long a client that failed the narrowed offer
 * keeps the full list. The swap on a real connection is tested end to end in
 * integration/hardening-ssh.
 */
import { expect } from 'chai';
import { CipherOffers, isOpensshWithGcm } from '../../src/ssh/cipher-offer';

describe('cipher offer', function () {
  it('recognises OpenSSH 6.2 and later by the identification line', function () {
    expect(isOpensshWithGcm('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10')).to.equal(true);
    expect(isOpensshWithGcm('SSH-2.0-OpenSSH_6.2')).to.equal(true);
    expect(isOpensshWithGcm('SSH-2.0-OpenSSH_10.0')).to.equal(true);
    expect(isOpensshWithGcm('SSH-2.0-OpenSSH_6.1p1')).to.equal(false);
    expect(isOpensshWithGcm('SSH-2.0-OpenSSH_5.3')).to.equal(false);
    expect(isOpensshWithGcm('SSH-2.0-PuTTY_Release_0.78')).to.equal(false);
    expect(isOpensshWithGcm('SSH-2.0-libssh2_1.10.0')).to.equal(false);
    expect(isOpensshWithGcm('SSH-2.0-paramiko_2.12.0')).to.equal(false);
  });

  it('leaves connections alone when switched off or when ssh2 is not as expected', function () {
    const off = new CipherOffers(false);
    expect(off.narrow({}, '10.0.0.1', 'SSH-2.0-OpenSSH_9.2')).to.equal('unchanged');
    const on = new CipherOffers(true);
    expect(on.narrow({}, '10.0.0.1', 'SSH-2.0-OpenSSH_9.2')).to.equal('unsupported');
    expect(
      on.narrow({ _protocol: { _offer: { lists: {} } } }, '10.0.0.1', 'SSH-2.0-OpenSSH_9.2'),
    ).to.equal('unsupported');
    expect(on.narrow({}, '10.0.0.1', 'SSH-2.0-PuTTY_Release_0.78')).to.equal('unchanged');
  });

  it('remembers a client that failed the narrowed offer for a day, and only for cipher failures', function () {
    let now = 1_000_000;
    const offers = new CipherOffers(true, () => now);
    const ident = 'SSH-2.0-OpenSSH_9.2';
    const message = 'Handshake failed: no matching C->S cipher';
    expect(offers.failed('unchanged', '10.0.0.1', ident, message)).to.equal(false);
    expect(
      offers.failed('narrowed', '10.0.0.1', ident, 'Handshake failed: no matching C->S MAC'),
    ).to.equal(false);
    expect(offers.narrow({}, '10.0.0.1', ident)).to.equal('unsupported');
    expect(offers.failed('narrowed', '10.0.0.1', ident, message)).to.equal(true);
    expect(offers.narrow({}, '10.0.0.1', ident)).to.equal('unchanged');
    expect(offers.narrow({}, '10.0.0.2', ident)).to.equal('unsupported');
    now += 24 * 3600 * 1000 + 1;
    expect(offers.narrow({}, '10.0.0.1', ident)).to.equal('unsupported');
  });
});
