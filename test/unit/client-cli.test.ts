import { expect } from 'chai';
import { parallelOf } from '../../src/client/cli-args';
import { keyLabel, parseCliArgs, parseDestination, UsageError } from '../../src/client/main/cli';

describe('client arguments', () => {
  it('reads [user@]host[:port], with defaults for each part', () => {
    expect(parseDestination('bob@example.org:2222')).to.deep.equal({
      user: 'bob',
      host: 'example.org',
      port: 2222,
    });
    expect(parseDestination('[::1]:9')).to.deep.equal({ user: undefined, host: '::1', port: 9 });
    expect(parseDestination('::1')).to.deep.equal({
      user: undefined,
      host: '::1',
      port: undefined,
    });
    const a = parseCliArgs([], { USER: 'carol' });
    expect([a.user, a.host, a.port]).to.deep.equal(['carol', '127.0.0.1', 8808]);
    const b = parseCliArgs(['-p', '2200', '-i', 'key', '-b', '-', 'dave@h'], { USER: 'x' });
    expect([b.user, b.host, b.port, b.identity, b.batch]).to.deep.equal([
      'dave',
      'h',
      2200,
      'key',
      '-',
    ]);
  });

  it('names host key types as OpenSSH does', () => {
    expect(keyLabel('ssh-ed25519')).to.equal('ED25519');
    expect(keyLabel('rsa-sha2-512')).to.equal('RSA');
    expect(keyLabel('ecdsa-sha2-nistp256')).to.equal('ECDSA');
    expect(keyLabel('something-new')).to.equal('something-new');
  });

  it('refuses bad ports, unknown options and two ports that differ', () => {
    expect(() => parseCliArgs(['h:99999'], {})).to.throw(UsageError, 'bad port');
    expect(() => parseCliArgs(['--nope'], {})).to.throw(UsageError, 'unknown option');
    expect(() => parseCliArgs(['-p', '1', 'h:2'], {})).to.throw(UsageError, 'two different ports');
  });

  it('takes --parallel N from 1 to 16, over MINIFTP_PARALLEL, which wins over the default 1', () => {
    expect(parseCliArgs(['--parallel', '3', 'h'], {}).parallel).to.equal(3);
    expect(
      parallelOf(parseCliArgs(['--parallel', '3', 'h'], {}), { MINIFTP_PARALLEL: '5' }),
    ).to.equal(3);
    expect(parallelOf(parseCliArgs(['h'], {}), { MINIFTP_PARALLEL: '5' })).to.equal(5);
    expect(parallelOf(parseCliArgs(['h'], {}), { MINIFTP_PARALLEL: 'many' })).to.equal(1);
    expect(parallelOf(parseCliArgs(['h'], {}), {})).to.equal(1);
    for (const bad of ['0', '17', '2.5', 'two', '-1']) {
      expect(() => parseCliArgs(['--parallel', bad, 'h'], {})).to.throw(
        UsageError,
        `bad --parallel value ${bad}: a number from 1 to 16`,
      );
    }
    expect(() => parseCliArgs(['h', '--parallel'], {})).to.throw(
      UsageError,
      '--parallel needs a value',
    );
  });
});
