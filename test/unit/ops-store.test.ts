/**
 * The operational tables (hook outbox, login history, address rules, per-user limits), the same
 * tests against SQLite and a private PostgreSQL: leases that keep two nodes from claiming one
 * event, retries and failures, history queries and pruning, rules and limits that go with their
 * user.
 */
import { expect } from 'chai';
import { MiniftpError } from '../../src/errors';
import { openPostgresStore, openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import { postgresDatabase } from '../helpers/postgres';

async function kindOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof MiniftpError) return err.kind;
    throw err;
  }
  return 'no error';
}

function opsBehaviour(makeStore: () => Promise<Store>): void {
  let store: Store;

  beforeEach(async () => {
    store = await makeStore();
    await store.users.create({
      name: 'bob',
      passwordHash: 'h',
      quotaBytes: 0,
      quotaFiles: 0,
      isAdmin: false,
    });
  });

  afterEach(async () => {
    await store.close();
  });

  it('lets one node claim a due event; another gets it once the lease has run out', async () => {
    const { hooks } = store.ops;
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const id = await hooks.add('upload.completed', '{"a":1}', new Date(t0));
    const first = await hooks.claim('n1', t0, 1000, 8);
    expect(first.map((r) => [r.id, r.claimedBy, r.claimedUntil])).to.deep.equal([
      [id, 'n1', t0 + 1000],
    ]);
    expect(await hooks.claim('n2', t0 + 500, 1000, 8)).to.deep.equal([]);
    const taken = await hooks.claim('n2', t0 + 1001, 1000, 8);
    expect(taken.map((r) => r.claimedBy)).to.deep.equal(['n2']);
    // n1 no longer holds it: its late answer changes nothing.
    await hooks.delivered(id, 'n1', new Date(t0 + 1002));
    expect((await hooks.get(id))?.state).to.equal('pending');
    await hooks.delivered(id, 'n2', new Date(t0 + 1003));
    expect(await hooks.get(id)).to.include({ state: 'delivered', attempts: 1 });
  });

  it('schedules retries, keeps an event that gave up as failed, and retries it on demand', async () => {
    const { hooks } = store.ops;
    const t0 = 1_000_000;
    const id = await hooks.add('login.failed', '{}', new Date(t0));
    await hooks.claim('n1', t0, 60_000, 8);
    await hooks.setPayload(id, 'n1', '{"filled":true}');
    await hooks.attemptFailed(id, 'n1', 'HTTP 500', t0 + 100, false);
    expect(await hooks.get(id)).to.include({
      state: 'pending',
      attempts: 1,
      nextAt: t0 + 100,
      lastError: 'HTTP 500',
      payload: '{"filled":true}',
    });
    // Not due yet, then due.
    expect(await hooks.claim('n1', t0 + 99, 60_000, 8)).to.deep.equal([]);
    expect(await hooks.claim('n1', t0 + 100, 60_000, 8)).to.have.length(1);
    await hooks.attemptFailed(id, 'n1', 'HTTP 502', t0 + 300, true);
    expect(await hooks.list({ state: 'failed', limit: 10 })).to.have.length(1);
    expect(await hooks.claim('n1', t0 + 1e6, 60_000, 8)).to.deep.equal([]);
    expect(await hooks.retry(id, t0 + 400)).to.equal(true);
    expect(await hooks.get(id)).to.include({ state: 'pending', attempts: 0, nextAt: t0 + 400 });
    expect(await hooks.retry(9999, t0)).to.equal(false);
  });

  it('ends the leases of a restarted node and prunes delivered events', async () => {
    const { hooks } = store.ops;
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const a = await hooks.add('user.created', '{}', new Date(t0));
    const b = await hooks.add('user.deleted', '{}', new Date(t0));
    await hooks.claim('n1', t0, 3_600_000, 8);
    await hooks.release('n1');
    expect((await hooks.claim('n2', t0 + 1, 1000, 8)).map((r) => r.id)).to.deep.equal([a, b]);
    await hooks.delivered(a, 'n2', new Date(t0 + 2));
    expect(await hooks.prune(new Date(t0 + 1))).to.equal(0);
    expect(await hooks.prune(new Date(t0 + 10))).to.equal(1);
    expect((await hooks.list({ limit: 10 })).map((r) => r.id)).to.deep.equal([b]);
  });

  it('keeps login attempts, answers queries newest first, and prunes old ones', async () => {
    const { logins } = store.ops;
    const row = (at: string, user: string, result: 'ok' | 'failed') => ({
      at,
      user,
      address: '192.0.2.1',
      method: 'password',
      result,
      reason: result === 'ok' ? '' : 'wrong password',
      client: 'SSH-2.0-OpenSSH_9.2',
      node: 'n1',
    });
    await logins.add(row('2026-01-01T00:00:00.000Z', 'bob', 'failed'));
    await logins.add(row('2026-01-02T00:00:00.000Z', 'bob', 'ok'));
    await logins.add(row('2026-01-03T00:00:00.000Z', 'eve', 'failed'));
    const bob = await logins.query({ user: 'bob', limit: 10 });
    expect(bob.map((r) => r.result)).to.deep.equal(['ok', 'failed']);
    expect(bob[0]).to.deep.equal(row('2026-01-02T00:00:00.000Z', 'bob', 'ok'));
    const failed = await logins.query({ failedOnly: true, limit: 10 });
    expect(failed.map((r) => r.user)).to.deep.equal(['eve', 'bob']);
    const since = await logins.query({ since: new Date('2026-01-02T00:00:00Z'), limit: 10 });
    expect(since).to.have.length(2);
    expect(await logins.query({ limit: 1 })).to.have.length(1);
    expect(await logins.prune(new Date('2026-01-02T12:00:00Z'))).to.equal(2);
  });

  it('keeps address rules, global and per user; a user taking its rules along when deleted', async () => {
    const { addresses } = store.ops;
    const at = new Date('2026-01-01T00:00:00Z');
    expect(await addresses.add({ user: '', action: 'allow', cidr: '10.0.0.0/8' }, at)).to.equal(
      true,
    );
    expect(await addresses.add({ user: '', action: 'allow', cidr: '10.0.0.0/8' }, at)).to.equal(
      false,
    );
    await addresses.add({ user: 'bob', action: 'deny', cidr: '2001:db8::/32' }, at);
    expect(
      await kindOf(addresses.add({ user: 'nobody', action: 'deny', cidr: '::/0' }, at)),
    ).to.equal('not-found');
    expect((await addresses.list()).map((r) => [r.user, r.action, r.cidr])).to.deep.equal([
      ['', 'allow', '10.0.0.0/8'],
      ['bob', 'deny', '2001:db8::/32'],
    ]);
    await store.users.delete('bob');
    expect((await addresses.list()).map((r) => r.user)).to.deep.equal(['']);
    expect(await addresses.remove({ user: '', action: 'allow', cidr: '10.0.0.0/8' })).to.equal(
      true,
    );
    expect(await addresses.remove({ user: '', action: 'allow', cidr: '10.0.0.0/8' })).to.equal(
      false,
    );
  });

  it('keeps per-user limits, refuses an unknown user, and drops them with the user', async () => {
    const { userLimits } = store.ops;
    expect(await userLimits.get('bob')).to.deep.equal({
      user: 'bob',
      upBps: 0,
      downBps: 0,
      maxSessions: 0,
    });
    const limits = {
      user: 'bob',
      upBps: 10 * 1024 * 1024,
      downBps: 20 * 1024 * 1024,
      maxSessions: 2,
    };
    await userLimits.set(limits);
    await userLimits.set({ ...limits, maxSessions: 3 });
    expect(await userLimits.list()).to.deep.equal([{ ...limits, maxSessions: 3 }]);
    expect(await kindOf(userLimits.set({ ...limits, user: 'nobody' }))).to.equal('not-found');
    await store.users.delete('bob');
    expect(await userLimits.list()).to.deep.equal([]);
  });
}

describe('store: operational tables', function () {
  describe('sqlite', () => {
    opsBehaviour(() => openStore({ file: ':memory:' }));
  });

  describe('postgresql', function () {
    this.timeout(120_000);
    opsBehaviour(async () =>
      openPostgresStore({ url: await postgresDatabase(), poolSize: 4, timeoutMs: 10_000 }),
    );
  });
});
