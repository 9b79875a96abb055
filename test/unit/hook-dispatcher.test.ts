/**
 * The hook dispatcher over a real SQLite outbox and real commands: delivered, failed with the
 * command's reason and retried later, killed at its timeout, kept as failed after the last
 * attempt; nothing is stored while no target is configured; the backoff doubles up to an hour.
 */
import { expect } from 'chai';
import { HookDispatcher, backoff } from '../../src/ops/hook-dispatcher';
import { openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import { RecordingLogger } from '../helpers/fake-channel';
import { waitUntil } from '../helpers/probe';

describe('HookDispatcher', function () {
  let store: Store;

  beforeEach(async () => {
    store = await openStore({ file: ':memory:' });
  });

  afterEach(async () => {
    await store.close();
  });

  function dispatcher(command: string[], o: { maxAttempts?: number; timeoutMs?: number } = {}) {
    return new HookDispatcher({
      outbox: store.ops.hooks,
      node: 'n1',
      targets: { command, url: '', secret: '', timeoutMs: o.timeoutMs ?? 5000 },
      retryDelayMs: 60_000,
      maxAttempts: o.maxAttempts ?? 3,
      leaseMs: 60_000,
      logger: new RecordingLogger(),
    });
  }

  async function settled(id: number, check: (state: string, attempts: number) => boolean) {
    await waitUntil(`event ${id}`, async () => {
      const row = await store.ops.hooks.get(id);
      return row !== undefined && check(row.state, row.attempts);
    });
    return store.ops.hooks.get(id);
  }

  it('stores nothing while no target is configured', async function () {
    const d = dispatcher([]);
    expect(d.enabled).to.equal(false);
    expect(await d.emit('user.created', { user: 'bob' })).to.equal(undefined);
    expect(await store.ops.hooks.list({ limit: 10 })).to.deep.equal([]);
  });

  it('marks an event delivered when the command exits 0', async function () {
    const d = dispatcher(['/bin/sh', '-c', 'grep -q \'"event":"user.created"\'']);
    await d.start();
    try {
      const id = (await d.emit('user.created', { user: 'bob' })) as number;
      expect(await settled(id, (s) => s !== 'pending')).to.include({
        state: 'delivered',
        attempts: 1,
      });
    } finally {
      await d.stop();
    }
  });

  it("keeps the command's reason and schedules the next attempt after a failure", async function () {
    const d = dispatcher(['/bin/sh', '-c', 'echo receiver is down >&2; exit 3']);
    await d.start();
    try {
      const before = Date.now();
      const id = (await d.emit('login.failed', { user: 'eve' })) as number;
      const row = await settled(id, (_s, attempts) => attempts === 1);
      expect(row?.state).to.equal('pending');
      expect(row?.lastError).to.equal('hook command failed (exit status 3): receiver is down');
      expect(row?.nextAt).to.be.at.least(before + 60_000);
    } finally {
      await d.stop();
    }
  });

  it('kills a command at its timeout and gives up after the last attempt', async function () {
    const d = dispatcher(['/bin/sleep', '30'], { maxAttempts: 1, timeoutMs: 100 });
    await d.start();
    try {
      const id = (await d.emit('quota.exceeded', { user: 'bob' })) as number;
      const row = await settled(id, (s) => s !== 'pending');
      expect(row).to.include({ state: 'failed', attempts: 1 });
      expect(row?.lastError).to.equal('hook command timed out after 100 ms');
    } finally {
      await d.stop();
    }
  });

  it('doubles the wait between attempts, up to an hour', function () {
    expect([1, 2, 3, 4].map((n) => backoff(1000, n))).to.deep.equal([1000, 2000, 4000, 8000]);
    expect(backoff(5000, 40)).to.equal(3_600_000);
  });
});
