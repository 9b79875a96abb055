/**
 * The cluster's tables (src/store/cluster.ts), the same way on SQLite and on a
 * private PostgreSQL; and the bus over PostgreSQL's LISTEN/NOTIFY.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { SqlClusterStore } from '../../src/store/cluster';
import type { SessionRecord } from '../../src/store/cluster-types';
import { openPostgresStore, openStore } from '../../src/store/open';
import { PgBus } from '../../src/store/pg/bus';
import type { Store } from '../../src/store/types';
import { postgresDatabase } from '../helpers/postgres';
import { waitUntil } from '../helpers/probe';

function session(node: string, id: string, pid: number, user = 'zhangsan'): SessionRecord {
  return {
    node,
    id,
    pid,
    worker: null,
    user,
    ip: '127.0.0.1',
    port: 40000,
    kind: 'sftp',
    method: 'password',
    client: 'SSH-2.0-OpenSSH_9.2',
    startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, Number(id.slice(-1)))).toISOString(),
    bytes: 0,
  };
}

function node(
  name: string,
  pid: number,
): {
  name: string;
  pid: number;
  workers: number;
  version: string;
  startedAt: string;
} {
  return { name, pid, workers: 1, version: '0.1.0', startedAt: '2026-01-01T00:00:00.000Z' };
}

const backends: Array<{ name: string; open: () => Promise<Store> }> = [
  {
    name: 'sqlite',
    open: () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniftp-cluster-store-'));
      return openStore({ file: path.join(dir, 'miniftp.db') });
    },
  },
  {
    name: 'postgresql',
    open: async () =>
      openPostgresStore({ url: await postgresDatabase(), poolSize: 2, timeoutMs: 10_000 }),
  },
];

describe('cluster store', function () {
  this.timeout(60_000);
  for (const backend of backends) {
    describe(backend.name, function () {
      let store: Store;
      let cluster: SqlClusterStore;
      beforeEach(async () => {
        store = await backend.open();
        cluster = new SqlClusterStore(store.sql);
      });
      afterEach(async () => {
        await store.close();
      });

      it('keeps one row per node, its start from the process it names, its session count', async () => {
        await cluster.beat(node('a', 10), new Date('2026-01-01T00:00:01Z'));
        // Another worker of the same node beats with its own start: the row keeps the first.
        await cluster.beat(
          { ...node('a', 10), startedAt: '2026-01-01T00:00:05.000Z' },
          new Date('2026-01-01T00:00:06Z'),
        );
        await cluster.beat(node('b', 20), new Date('2026-01-01T00:00:02Z'));
        await cluster.addSession(session('a', 'x-1', 11));
        await cluster.addSession(session('a', 'x-2', 12));
        const nodes = await cluster.nodes();
        expect(
          nodes.map((n) => [n.name, n.pid, n.sessions, n.startedAt, n.heartbeatAt]),
        ).to.deep.equal([
          ['a', 10, 2, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:06.000Z'],
          ['b', 20, 0, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:02.000Z'],
        ]);
        // A restarted node (another leading pid) starts anew.
        await cluster.beat({ ...node('b', 21), startedAt: '2026-01-01T01:00:00.000Z' }, new Date());
        expect((await cluster.nodes()).find((n) => n.name === 'b')?.startedAt).to.equal(
          '2026-01-01T01:00:00.000Z',
        );
      });

      it('lists, updates and removes sessions by node, id and process', async () => {
        await cluster.beat(node('a', 10), new Date());
        await cluster.addSession(session('a', 'x-1', 11));
        await cluster.addSession(session('a', 'x-2', 12));
        await cluster.addSession(session('b', 'y-3', 21, 'lisi'));
        await cluster.setBytes('a', 'x-1', 5_000_000_000);
        const all = await cluster.sessions();
        expect(all.map((s) => [s.node, s.id, s.pid, s.user])).to.deep.equal([
          ['a', 'x-1', 11, 'zhangsan'],
          ['a', 'x-2', 12, 'zhangsan'],
          ['b', 'y-3', 21, 'lisi'],
        ]);
        expect(all[0]?.bytes).to.equal(5_000_000_000);
        expect(all[0]).to.deep.include({ worker: null, kind: 'sftp', method: 'password' });
        expect((await cluster.processes('a')).sort()).to.deep.equal([11, 12]);
        await cluster.removeProcess('a', 12);
        await cluster.removeSession('b', 'y-3');
        expect((await cluster.sessions()).map((s) => s.id)).to.deep.equal(['x-1']);
        await cluster.removeNode('a');
        expect(await cluster.sessions()).to.deep.equal([]);
        expect(await cluster.nodes()).to.deep.equal([]);
      });

      it('sweeps the nodes whose heartbeat lapsed, with their sessions, and no other', async () => {
        await cluster.beat(node('old', 1), new Date('2026-01-01T00:00:00Z'));
        await cluster.beat(node('new', 2), new Date('2026-01-01T00:01:00Z'));
        await cluster.addSession(session('old', 'o-1', 1));
        await cluster.addSession(session('new', 'n-2', 2));
        const gone = await cluster.sweep(new Date('2026-01-01T00:00:30Z'));
        expect(gone).to.deep.equal(['old']);
        expect((await cluster.nodes()).map((n) => n.name)).to.deep.equal(['new']);
        expect((await cluster.sessions()).map((s) => s.id)).to.deep.equal(['n-2']);
      });
    });
  }

  describe('bus over PostgreSQL', function () {
    it('carries a message to every listening process, in order', async () => {
      const url = await postgresDatabase();
      const store = await openPostgresStore({ url, poolSize: 2, timeoutMs: 10_000 });
      const errors: string[] = [];
      const one = await PgBus.open({ url, sql: store.sql, onError: (e) => errors.push(e) });
      const two = await PgBus.open({ url, sql: store.sql, onError: (e) => errors.push(e) });
      const got: string[] = [];
      two.subscribe((text) => got.push(text));
      try {
        await one.publish('{"first":1}');
        await one.publish('quotes \' and " pass');
        await waitUntil('two messages', () => got.length === 2);
        expect(got).to.deep.equal(['{"first":1}', 'quotes \' and " pass']);
        let failed: unknown;
        await one.publish('x'.repeat(9000)).catch((err: unknown) => (failed = err));
        expect(failed).to.be.instanceOf(Error);
        expect(errors).to.deep.equal([]);
      } finally {
        await one.close();
        await two.close();
        await store.close();
      }
    });
  });
});
