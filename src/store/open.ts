/** Opens the store the configuration names: PostgreSQL for a --store-url, else SQLite. */
import { redactUrl } from './engine/url';
import { openPostgres, type PostgresOptions } from './pg/open';
import { openSqlite, type SqliteOptions } from './sqlite/open';
import { SqlStore } from './store';
import type { Store } from './types';

/** The SQLite store in `options.file` (the data directory's miniftp.db, or ':memory:'). */
export async function openStore(options: SqliteOptions): Promise<Store> {
  const db = await openSqlite(options);
  return new SqlStore(db, 'sqlite', options.file);
}

/** The PostgreSQL store at `options.url` (postgres://…), shared by every process and node. */
export async function openPostgresStore(options: PostgresOptions): Promise<Store> {
  const db = await openPostgres(options);
  return new SqlStore(db, 'postgres', redactUrl(options.url));
}
