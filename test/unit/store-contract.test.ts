/**
 * What every kind of store must do beyond the records themselves, run the same way against
 * SQLite and a private PostgreSQL: migrations, the transaction helper under concurrency from two
 * connections, and a database that cannot be reached.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import pg from 'pg';
import { MiniftpError } from '../../src/errors';
import { migrations, type Migration } from '../../src/store/migrations';
import { openPostgresStore, openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import { freePort, pgCluster, postgresDatabase, PG_PASSWORD } from '../helpers/postgres';

/** One kind of store: where a fresh database is, how to open it, and a side door into it. */
interface Backend {
  readonly name: string;
  /** A new, empty database; what `open` and `sql` take. */
  fresh(): Promise<string>;
  /** Opens it as the server would; `shared` lets a second connection in (SQLite). */
  open(place: string, list?: readonly Migration[]): Promise<Store>;
  /** Runs SQL on it without the store (to play a newer MiniFTP). */
  sql(place: string, text: string): Promise<Array<Record<string, unknown>>>;
  readonly setting: string;
}

let tmp: string;
let files = 0;

const sqlite: Backend = {
  name: 'sqlite',
  setting: '--data-dir',
  fresh: async () => path.join(tmp, `contract-${++files}.db`),
  open: (file, list) =>
    openStore({
      file,
      shared: true,
      place: { description: `the data directory '${tmp}' (--data-dir)`, setting: '--data-dir' },
      ...(list ? { migrations: list } : {}),
    }),
  sql: async (file, text) => {
    const db = new BetterSqlite3(file);
    try {
      const stmt = db.prepare(text);
      if (stmt.reader) return stmt.all() as Array<Record<string, unknown>>;
      stmt.run();
      return [];
    } finally {
      db.close();
    }
  },
};

const postgres: Backend = {
  name: 'postgresql',
  setting: '--store-url',
  fresh: () => postgresDatabase(),
  open: (url, list) =>
    openPostgresStore({
      url,
      poolSize: 4,
      timeoutMs: 10_000,
      ...(list ? { migrations: list } : {}),
    }),
  sql: async (url, text) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(text)).rows as Array<Record<string, unknown>>;
    } finally {
      await client.end();
    }
  },
};

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof Error) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

const LATEST = migrations[migrations.length - 1]?.id ?? '';

function contract(backend: Backend): void {
  describe(backend.name, function () {
    this.timeout(120_000);
    const open: Store[] = [];
    const opened = async (place: string, list?: readonly Migration[]): Promise<Store> => {
      const store = await backend.open(place, list);
      open.push(store);
      return store;
    };

    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });

    describe('migrations', () => {
      it('applies every step to a fresh database and records each once, also on a re-run', async () => {
        const place = await backend.fresh();
        await (await backend.open(place)).close();
        await (await backend.open(place)).close();
        const rows = await backend.sql(place, 'SELECT id FROM schema_migrations ORDER BY id');
        expect(rows.map((r) => r.id)).to.deep.equal(migrations.map((m) => m.id));
        const store = await opened(place);
        expect(await store.users.list()).to.deep.equal([]);
      });

      it('applies each step once when two servers start together on a fresh database', async () => {
        const place = await backend.fresh();
        const [first, second] = await Promise.all([opened(place), opened(place)]);
        await first.users.create({
          name: 'bob',
          passwordHash: 'x',
          quotaBytes: 0,
          quotaFiles: 0,
          isAdmin: false,
        });
        expect((await second.users.get('bob'))?.name).to.equal('bob');
        const rows = await backend.sql(place, 'SELECT id FROM schema_migrations ORDER BY id');
        expect(rows.map((r) => r.id)).to.deep.equal(migrations.map((m) => m.id));
      });

      it('applies a step added later to a database that has the earlier ones, in one go', async () => {
        const place = await backend.fresh();
        await (await backend.open(place)).close();
        const next: Migration = {
          id: `${String(migrations.length + 1).padStart(4, '0')}_notes`,
          sqlite: 'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL) STRICT',
          postgres: 'CREATE TABLE notes (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)',
        };
        const store = await opened(place, [...migrations, next]);
        await store.sql.run('INSERT INTO notes (body) VALUES ($1)', ['hello']);
        expect(await store.sql.all('SELECT body FROM notes')).to.deep.equal([{ body: 'hello' }]);
        const rows = await backend.sql(place, 'SELECT id FROM schema_migrations ORDER BY id');
        expect(rows.map((r) => r.id)).to.deep.equal([...migrations.map((m) => m.id), next.id]);
      });

      it('refuses a database with a step this MiniFTP does not know, naming both versions and the setting', async () => {
        const place = await backend.fresh();
        await (await backend.open(place)).close();
        await backend.sql(
          place,
          "INSERT INTO schema_migrations (id, applied_at) VALUES ('9999_from_the_future', 'x')",
        );
        const err = await caught(backend.open(place));
        expect(err).to.be.instanceOf(MiniftpError);
        expect(err.message).to.include('9999_from_the_future');
        expect(err.message).to.include(LATEST);
        expect(err.message).to.include(backend.setting);
        expect(err.message).to.match(/newer MiniFTP/);
        expect(err.message).to.not.include(PG_PASSWORD);
      });

      it('leaves the database as it was when a step fails', async () => {
        const place = await backend.fresh();
        const bad: Migration[] = [
          ...migrations,
          {
            id: `${String(migrations.length + 1).padStart(4, '0')}_broken`,
            sqlite: 'CREATE TABLE half (x INTEGER); THIS IS NOT SQL',
            postgres: 'CREATE TABLE half (x INTEGER); THIS IS NOT SQL',
          },
        ];
        await caught(backend.open(place, bad));
        const store = await opened(place);
        const tables = await store.sql.all<{ n: number }>(
          store.sql.dialect === 'sqlite'
            ? "SELECT count(*) AS n FROM sqlite_master WHERE name IN ('half', 'users')"
            : "SELECT count(*) AS n FROM pg_tables WHERE tablename IN ('half', 'users')",
        );
        // Opened again with the known steps only: users exists, half never did.
        expect(Number(tables[0]?.n)).to.equal(1);
      });
    });

    describe('transaction', () => {
      it('lets two connections racing a read-then-write never pass the limit together', async () => {
        const place = await backend.fresh();
        const a = await opened(place);
        const b = await opened(place);
        await a.users.create({
          name: 'bob',
          passwordHash: 'x',
          quotaBytes: 0,
          quotaFiles: 0,
          isAdmin: false,
        });
        await a.usage.set('bob', 0, 0);
        const LIMIT = 1000;
        const CHUNK = 250;
        /** used + chunk <= limit, read then written: the pattern of a quota grant. */
        const reserve = (store: Store): Promise<boolean> =>
          store.transaction(async (tx) => {
            const row = await tx.get<{ bytes: number }>(
              'SELECT bytes FROM "usage" WHERE "user" = $1',
              ['bob'],
            );
            const used = Number(row?.bytes ?? 0);
            if (used + CHUNK > LIMIT) return false;
            await tx.run('UPDATE "usage" SET bytes = $2 WHERE "user" = $1', ['bob', used + CHUNK]);
            return true;
          });
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) => reserve(i % 2 === 0 ? a : b)),
        );
        expect(results.filter(Boolean)).to.have.length(LIMIT / CHUNK);
        expect((await b.usage.get('bob')).bytes).to.equal(LIMIT);
      });

      it('rolls back everything when the function throws, and the error reaches the caller', async () => {
        const store = await opened(await backend.fresh());
        const err = await caught(
          store.transaction(async (tx) => {
            await tx.run(
              `INSERT INTO users (name, password_hash, created_at) VALUES ('temp', 'h', 'now')`,
            );
            throw MiniftpError.invalid('changed my mind');
          }),
        );
        expect(err.message).to.equal('changed my mind');
        expect(await store.users.get('temp')).to.equal(undefined);
        // The connection is usable afterwards.
        expect(await store.users.list()).to.deep.equal([]);
      });
    });
  });
}

describe('store contract', function () {
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'miniftp-contract-'));
  });

  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  contract(sqlite);
  contract(postgres);

  describe('postgresql out of reach', function () {
    this.timeout(60_000);

    it('at start: one line naming --store-url and the address, without the password', async () => {
      const port = await freePort();
      const url = `postgres://miniftp:very-secret-pw@127.0.0.1:${port}/miniftp`;
      const err = await caught(openPostgresStore({ url, poolSize: 2, timeoutMs: 5_000 }));
      expect(err).to.be.instanceOf(MiniftpError);
      expect(err.message).to.include('--store-url');
      expect(err.message).to.include(`127.0.0.1:${port}`);
      expect(err.message).to.include('ECONNREFUSED');
      expect(err.message).to.not.include('very-secret-pw');
      expect(err.message).to.include('***');
      expect(err.message).to.not.include('\n');
    });

    it('while running: requests fail with a short error, and work again once it is back', async () => {
      const cluster = await pgCluster();
      const store = await openPostgresStore({
        url: await postgresDatabase(),
        poolSize: 2,
        timeoutMs: 5_000,
      });
      try {
        expect(await store.users.list()).to.deep.equal([]);
        cluster.stop();
        try {
          const err = await caught(store.users.list());
          expect(err).to.be.instanceOf(MiniftpError);
          expect((err as MiniftpError).kind).to.equal('failure');
          expect(err.message).to.equal('the user database is out of reach');
          const txErr = await caught(store.transaction((tx) => tx.all('SELECT 1')));
          expect(txErr.message).to.equal('the user database is out of reach');
        } finally {
          cluster.start();
        }
        expect(await store.users.list()).to.deep.equal([]);
      } finally {
        await store.close();
      }
    });
  });
});
