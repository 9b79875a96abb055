/** Opens the store the configuration names. */
import { SqlStore } from './store';
import { openSqlite, type SqliteOptions } from './sqlite/open';
import type { Store } from './types';

/** The SQLite store in `options.file` (the data directory's miniftp.db, or ':memory:'). */
export async function openStore(options: SqliteOptions): Promise<Store> {
  const db = await openSqlite(options);
  return new SqlStore(db, 'sqlite', options.file);
}
