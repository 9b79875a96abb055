/** Address lists: CIDR normal forms, IPv4 and IPv6, deny over allow, global and per user. */
import { expect } from 'chai';
import { AddressLists, normalizeCidr } from '../../src/ops/address-lists';
import type { AddressRule, AddressRules } from '../../src/store/ops-types';

function rulesOf(list: Array<Omit<AddressRule, 'addedAt'>>): AddressRules {
  return {
    add: () => Promise.resolve(true),
    remove: () => Promise.resolve(true),
    list: () => Promise.resolve(list.map((r) => ({ ...r, addedAt: '2026-01-01T00:00:00Z' }))),
  };
}

describe('address lists', function () {
  it('normalises CIDR ranges and single addresses, and refuses anything else', function () {
    expect(normalizeCidr('10.1.2.3/8')).to.equal('10.0.0.0/8');
    expect(normalizeCidr('192.0.2.7')).to.equal('192.0.2.7/32');
    expect(normalizeCidr('2001:DB8::1/32')).to.equal('2001:db8::/32');
    expect(normalizeCidr('::1')).to.equal('::1/128');
    expect(normalizeCidr('::ffff:198.51.100.1')).to.equal('198.51.100.1/32');
    for (const bad of ['10.0.0.0/33', 'example.org', '10.0.0.0/8/1', ''])
      expect(() => normalizeCidr(bad), bad).to.throw(/not an address or CIDR range/);
  });

  it('lets everyone in without rules; an allow rule admits only its ranges; deny wins', async function () {
    const open = new AddressLists(rulesOf([]));
    await open.reload();
    expect(open.refusal('203.0.113.9')).to.equal(undefined);

    const lists = new AddressLists(
      rulesOf([
        { user: '', action: 'allow', cidr: '10.0.0.0/8' },
        { user: '', action: 'allow', cidr: '2001:db8::/32' },
        { user: '', action: 'deny', cidr: '10.6.0.0/16' },
      ]),
    );
    await lists.reload();
    expect(lists.refusal('10.1.2.3')).to.equal(undefined);
    expect(lists.refusal('::ffff:10.1.2.3')).to.equal(undefined);
    expect(lists.refusal('2001:db8:1::5')).to.equal(undefined);
    expect(lists.refusal('10.6.0.1')).to.equal('address in the deny list');
    expect(lists.refusal('192.0.2.1')).to.equal('address not in the allow list');
    expect(lists.refusal('2001:db9::1')).to.equal('address not in the allow list');
  });

  it("checks a user's own list apart from the global one", async function () {
    const lists = new AddressLists(
      rulesOf([
        { user: 'bob', action: 'deny', cidr: '192.0.2.0/24' },
        { user: 'carol', action: 'allow', cidr: '198.51.100.0/24' },
      ]),
    );
    await lists.reload();
    expect(lists.refusal('192.0.2.1')).to.equal(undefined);
    expect(lists.userRefusal('bob', '192.0.2.1')).to.equal('address in the deny list of this user');
    expect(lists.userRefusal('bob', '198.51.100.1')).to.equal(undefined);
    expect(lists.userRefusal('carol', '192.0.2.1')).to.equal(
      'address not in the allow list of this user',
    );
    expect(lists.userRefusal('dave', '192.0.2.1')).to.equal(undefined);
  });
});
