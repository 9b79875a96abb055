/**
 * Brings a database up to the schema this code knows, one migration (migrations/) at a time,
 * all pending steps in one transaction: a failure leaves the previous schema as it was, and
 * processes or nodes starting together on one database apply each step once (SQLite: the write
 * lock of BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock). Each applied step
 * is a row in schema_migrations.
 */
import { MiniftpError } from '../../errors';
import { migrations as known, type Migration } from '../migrations';
import type { Db, Sql } from './sql';

/** Where a database is, for the refusal of one newer than the code. */
export interface StorePlace {
  /** e.g. "the data directory '/srv/miniftp' (--data-dir)" or "--store-url postgres://…". */
  readonly description: string;
  /** The setting to change to use another database: "--data-dir" or "--store-url". */
  readonly setting: string;
}

/** Any 64-bit number that no other part of MiniFTP takes as an advisory lock. */
const MIGRATION_LOCK = 4_242_001;

const ID = /^(\d{4})_[a-z0-9_]+$/;

function checkList(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    const number = ID.exec(m.id)?.[1];
    if (number === undefined || Number(number) !== i + 1) {
      throw MiniftpError.failure(
        `migration ${i + 1} has the id '${m.id}': ids are NNNN_name, numbered from 0001 in order`,
      );
    }
  });
}

/** SQLite's own counter of schema steps (PRAGMA user_version); older MiniFTP read only this. */
async function userVersion(tx: Sql): Promise<number> {
  const row = await tx.get<{ user_version: number }>(
    'SELECT user_version FROM pragma_user_version',
  );
  return Number(row?.user_version ?? 0);
}

/** The ids of the steps applied to `db`, after applying any pending ones. */
export async function applyMigrations(
  db: Db,
  place: StorePlace,
  list: readonly Migration[] = known,
): Promise<string[]> {
  checkList(list);
  const latest = list[list.length - 1]?.id ?? 'none';
  return db.transaction(
    async (tx) => {
      if (tx.dialect === 'postgres') {
        await tx.get('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      }
      await tx.exec(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           id         TEXT NOT NULL PRIMARY KEY,
           applied_at TEXT NOT NULL
         )`,
      );
      const rows = await tx.all<{ id: string }>('SELECT id FROM schema_migrations ORDER BY id');
      const applied = new Set(rows.map((r) => r.id));
      const legacy = tx.dialect === 'sqlite' ? await userVersion(tx) : 0;
      // A database written before schema_migrations existed counted its steps in user_version.
      if (applied.size === 0 && legacy > 0) {
        for (const m of list.slice(0, legacy)) {
          await record(tx, m.id);
          applied.add(m.id);
        }
      }
      const ids = new Set(list.map((m) => m.id));
      const unknown = [...applied].filter((id) => !ids.has(id)).sort();
      const newest =
        unknown[unknown.length - 1] ?? (legacy > list.length ? `${legacy}` : undefined);
      if (newest !== undefined) {
        throw MiniftpError.invalid(
          `the store at ${place.description} has schema version ${newest} but this MiniFTP ` +
            `knows versions up to ${latest}: run a newer MiniFTP, or point ${place.setting} ` +
            `at another database`,
        );
      }
      for (const m of list) {
        if (applied.has(m.id)) continue;
        await tx.exec(tx.dialect === 'sqlite' ? m.sqlite : m.postgres);
        await record(tx, m.id);
        applied.add(m.id);
      }
      if (tx.dialect === 'sqlite') {
        // Kept in step, so that a MiniFTP from before schema_migrations refuses a newer file.
        // PRAGMA takes no bound parameters; the count is a whole number.
        await tx.exec(`PRAGMA user_version = ${applied.size}`);
      }
      return list.map((m) => m.id);
    },
    { readCommitted: true },
  );
}

async function record(tx: Sql, id: string): Promise<void> {
  await tx.run('INSERT INTO schema_migrations (id, applied_at) VALUES ($1, $2)', [
    id,
    new Date().toISOString(),
  ]);
}
