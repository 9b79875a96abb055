import type { Database } from 'better-sqlite3';
import { MiniftpError } from '../errors';
import { ACCESS_TABLES_SQLITE } from './sqlite-access';

/** One step of the schema. `version` is what `PRAGMA user_version` reads once `sql` has run. */
export interface Migration {
  readonly version: number;
  readonly sql: string;
}

/**
 * Append only: a released migration is never edited, because databases in the field have
 * already run it. STRICT tables make SQLite refuse a string in a number column instead of
 * silently storing it.
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE users (
        name          TEXT    NOT NULL PRIMARY KEY,
        password_hash TEXT    NOT NULL,
        quota_bytes   INTEGER NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0),
        quota_files   INTEGER NOT NULL DEFAULT 0 CHECK (quota_files >= 0),
        disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
        is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
        created_at    TEXT    NOT NULL,
        last_login_at TEXT
      ) STRICT;

      CREATE TABLE public_keys (
        user        TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        algo        TEXT NOT NULL,
        data        TEXT NOT NULL,
        comment     TEXT NOT NULL DEFAULT '',
        fingerprint TEXT NOT NULL,
        added_at    TEXT NOT NULL,
        UNIQUE (user, fingerprint)
      ) STRICT;

      CREATE TABLE usage (
        user       TEXT    NOT NULL PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
        bytes      INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0),
        files      INTEGER NOT NULL DEFAULT 0 CHECK (files >= 0),
        scanned_at TEXT
      ) STRICT;

      CREATE TABLE uploads (
        user          TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        path          TEXT    NOT NULL,
        bytes         INTEGER NOT NULL CHECK (bytes >= 0),
        md5           TEXT    NOT NULL,
        file_size     INTEGER NOT NULL CHECK (file_size >= 0),
        file_mtime_ms REAL    NOT NULL,
        updated_at    TEXT    NOT NULL,
        PRIMARY KEY (user, path)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  { version: 2, sql: ACCESS_TABLES_SQLITE },
];

/** The schema version this code writes: the last migration's. */
export function latestVersion(list: readonly Migration[] = migrations): number {
  return list.reduce((max, m) => Math.max(max, m.version), 0);
}

function readVersion(db: Database): number {
  const version = db.pragma('user_version', { simple: true });
  if (typeof version !== 'number') {
    throw MiniftpError.failure('the database did not report its schema version');
  }
  return version;
}

/**
 * Brings `db` up to the latest version. All pending steps run in one IMMEDIATE transaction, so
 * a failure leaves the previous schema intact and two processes starting on the same file
 * cannot both apply a step.
 */
export function applyMigrations(db: Database, list: readonly Migration[] = migrations): void {
  list.forEach((m, i) => {
    const previous = i === 0 ? 0 : (list[i - 1]?.version ?? 0);
    if (!Number.isSafeInteger(m.version) || m.version <= previous) {
      throw MiniftpError.failure(`migration versions must increase (found ${m.version})`);
    }
  });
  const latest = latestVersion(list);

  const run = db.transaction(() => {
    const current = readVersion(db);
    if (current > latest) {
      throw MiniftpError.unsupported(
        `the database schema is version ${current} but this MiniFTP only knows up to ` +
          `version ${latest}: run a newer MiniFTP or point it at another data directory`,
      );
    }
    for (const m of list) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      // PRAGMA takes no bound parameters; the version was checked to be an integer above.
      db.pragma(`user_version = ${m.version}`);
    }
  });
  run.immediate();
}
