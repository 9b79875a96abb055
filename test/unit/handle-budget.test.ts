/** The handle and listing budgets, and how the open-files limit is shared out. */
import { expect } from 'chai';
import { MiniftpError } from '../../src/errors';
import { HandleBudget, planDescriptors } from '../../src/sftp/handle-budget';

function limitError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(MiniftpError);
    expect((err as MiniftpError).kind).to.equal('limit');
    return (err as MiniftpError).message;
  }
  throw new Error('expected a limit error');
}

describe('handle budget', function () {
  it("counts a user's handles over all their sessions, and all users' against the total", function () {
    const budget = new HandleBudget({ perUser: 2, total: 3, listingBytes: 0 });
    const a1 = budget.takeHandle('a');
    budget.takeHandle('a');
    expect(limitError(() => budget.takeHandle('a'))).to.equal(
      'too many open handles for this user across all sessions (limit 2)',
    );
    budget.takeHandle('b');
    expect(limitError(() => budget.takeHandle('c'))).to.equal(
      'the server has reached its limit of open files (3); try again later',
    );
    expect(budget.usage()).to.deep.equal({ handles: 3, perUser: { a: 2, b: 1 }, listingBytes: 0 });
    // A release given twice counts once.
    a1();
    a1();
    expect(budget.usage().perUser).to.deep.equal({ a: 1, b: 1 });
    budget.takeHandle('c');
    expect(budget.usage().handles).to.equal(3);
  });

  it('refuses listing memory over its limit and takes it back on release', function () {
    const budget = new HandleBudget({ perUser: 0, total: 0, listingBytes: 100 });
    const first = budget.takeListing(60);
    expect(limitError(() => budget.takeListing(50))).to.equal(
      'the server has reached its limit of memory for directory listings; try again later',
    );
    first();
    first();
    budget.takeListing(100);
    expect(budget.usage().listingBytes).to.equal(100);
  });

  it('refuses nothing when unlimited', function () {
    const budget = HandleBudget.unlimited();
    for (let i = 0; i < 1000; i++) budget.takeHandle('a');
    budget.takeListing(2 ** 40);
    expect(budget.usage().handles).to.equal(1000);
  });
});

describe('planDescriptors', function () {
  it('keeps 64 and two per connection in reserve and gives a user an eighth of the rest', function () {
    expect(planDescriptors(20000, { reserved: 0, perUser: 0, maxConnections: 200 })).to.deep.equal({
      reserve: 464,
      total: 19536,
      perUser: 2442,
      reserveCut: false,
    });
  });

  it('takes the configured reserve and per-user budget, the latter at most the total', function () {
    expect(
      planDescriptors(4096, { reserved: 1000, perUser: 100, maxConnections: 200 }),
    ).to.deep.equal({ reserve: 1000, total: 3096, perUser: 100, reserveCut: false });
    expect(
      planDescriptors(4096, { reserved: 96, perUser: 9999, maxConnections: 1 }).perUser,
    ).to.equal(4000);
  });

  it('cuts the reserve to half a small limit, and says so', function () {
    expect(planDescriptors(256, { reserved: 0, perUser: 0, maxConnections: 200 })).to.deep.equal({
      reserve: 128,
      total: 128,
      perUser: 16,
      reserveCut: true,
    });
  });
});
