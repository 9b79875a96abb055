/** Opens the SQLite store: the file miniftp.db in the data directory, or ':memory:'. */
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { MiniftpError } from '../../errors';
import { applyMigrations, type StorePlace } from '../engine/migrate';
import type { Migration } from '../migrations';
import type { Db } from '../engine/sql';
import { SqliteDb } from './db';

export interface SqliteOptions {
  /** Path of the database file, or ':memory:' for a throwaway database. */
  readonly file: string;
  /**
   * Let other processes open the file at the same time (WAL mode; writers wait up to
   * `busyTimeoutMs` for each other). Without it, the first access takes a lock held until
   * close: a second server on the same data directory fails at start instead of serving the
   * same homes with its own idea of everyone's usage.
   */
  readonly shared?: boolean;
  /** How long a statement waits for another process's write lock; 2 s by default. */
  readonly busyTimeoutMs?: number;
  /** Where the file is, for the refusal of a database newer than the code. */
  readonly place?: StorePlace;
  /** The schema steps (tests give their own). */
  readonly migrations?: readonly Migration[];
}

/**
 * Makes sure the database file exists with mode 0600 before SQLite opens it: SQLite gives its
 * -wal and -shm files the main file's mode, so this covers the password hashes in all three.
 */
function prepareFile(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  fs.chmodSync(file, 0o600);
}

/** Opens (creating if needed) and migrates the database at `options.file`. */
export async function openSqlite(options: SqliteOptions): Promise<Db> {
  const inMemory = options.file === ':memory:';
  if (!inMemory) prepareFile(options.file);
  const raw = new BetterSqlite3(options.file);
  try {
    const db = new SqliteDb(raw, Math.max(0, Math.floor(options.busyTimeoutMs ?? 2000)));
    if (!inMemory && options.shared !== true) raw.pragma('locking_mode = EXCLUSIVE');
    raw.pragma('journal_mode = WAL');
    // NORMAL is durable across application crashes in WAL mode; only a power cut can lose the
    // last transactions, which for usage and upload ledgers are rebuilt from disk anyway.
    raw.pragma('synchronous = NORMAL');
    raw.pragma('foreign_keys = ON');
    await applyMigrations(
      db,
      options.place ?? { description: `the file '${options.file}'`, setting: '--data-dir' },
      options.migrations,
    );
    return db;
  } catch (err) {
    raw.close();
    if (err instanceof Error && (err as { code?: unknown }).code === 'SQLITE_BUSY') {
      throw MiniftpError.failure('in use by another MiniFTP server (its database is locked)', err);
    }
    throw err;
  }
}
