import { expect } from 'chai';
import { planLaunch } from '../../src/main/launch';
import { bypassesModes, effectiveCapabilities } from '../../src/main/privileges';

/** A capability set with the given bits. */
function caps(...bits: number[]): bigint {
  return bits.reduce((all, b) => all | (1n << BigInt(b)), 0n);
}

const ROOT = caps(0, 1, 2, 3, 8, 10);
const DROPPED = caps(0, 3, 8, 10);

describe('launch plan (file modes as root)', function () {
  it('reads CapEff from /proc status text', function () {
    const status = 'Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t000001fffefffff9\n';
    const eff = effectiveCapabilities(status);
    expect(eff).to.equal(0x1fffefffff9n);
    expect(bypassesModes(eff)).to.equal(false);
    expect(bypassesModes(effectiveCapabilities('CapEff:\t0000000000000006\n'))).to.equal(true);
    expect(bypassesModes(effectiveCapabilities('no such line'))).to.equal(false);
  });

  it('serves at once without the capabilities, off Linux, or with runAs', function () {
    const base = { runAs: '', inner: false, setpriv: '/usr/bin/setpriv' };
    expect(planLaunch({ ...base, caps: DROPPED })).to.deep.equal({ kind: 'serve' });
    expect(planLaunch({ ...base, caps: undefined })).to.deep.equal({ kind: 'serve' });
    expect(planLaunch({ ...base, caps: ROOT, runAs: 'ftp' })).to.deep.equal({ kind: 'serve' });
    expect(planLaunch({ ...base, caps: DROPPED, inner: true })).to.deep.equal({ kind: 'serve' });
  });

  it('re-executes through setpriv as root, and refuses, naming --run-as, when it cannot', function () {
    const base = { runAs: '', inner: false, setpriv: '/usr/bin/setpriv' };
    expect(planLaunch({ ...base, caps: ROOT })).to.deep.equal({
      kind: 'reexec',
      setpriv: '/usr/bin/setpriv',
    });
    const refusals = [
      planLaunch({ ...base, caps: ROOT, setpriv: undefined }),
      planLaunch({ ...base, caps: caps(1, 2, 10) }),
      // Still there after setpriv: never a loop of re-executions.
      planLaunch({ ...base, caps: ROOT, inner: true }),
    ];
    for (const plan of refusals) {
      expect(plan.kind).to.equal('refuse');
      expect(plan.kind === 'refuse' && plan.message).to.include('--run-as USER');
    }
  });
});
