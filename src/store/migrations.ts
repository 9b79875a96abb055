import type { Database } from 'better-sqlite3';
import { MiniftpError } from '../errors';

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
  {
    // Operations: the hook outbox, the login history, address rules, per-user transfer settings.
    version: 2,
    sql: `
      CREATE TABLE hook_outbox (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        event         TEXT    NOT NULL,
        payload       TEXT    NOT NULL,
        created_at    TEXT    NOT NULL,
        state         TEXT    NOT NULL DEFAULT 'pending'
                              CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_at       INTEGER NOT NULL,
        claimed_by    TEXT,
        claimed_until INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT,
        delivered_at  TEXT
      ) STRICT;
      CREATE INDEX hook_outbox_due ON hook_outbox (state, next_at);

      CREATE TABLE login_history (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      TEXT NOT NULL,
        user    TEXT NOT NULL,
        address TEXT NOT NULL,
        method  TEXT NOT NULL,
        result  TEXT NOT NULL CHECK (result IN ('ok', 'failed', 'refused')),
        reason  TEXT NOT NULL DEFAULT '',
        client  TEXT NOT NULL DEFAULT '',
        node    TEXT NOT NULL DEFAULT ''
      ) STRICT;
      CREATE INDEX login_history_at ON login_history (at);
      CREATE INDEX login_history_user_at ON login_history (user, at);

      CREATE TABLE address_rules (
        user     TEXT NOT NULL DEFAULT '',
        action   TEXT NOT NULL CHECK (action IN ('allow', 'deny')),
        cidr     TEXT NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (user, action, cidr)
      ) STRICT, WITHOUT ROWID;
      CREATE TRIGGER address_rules_user_deleted AFTER DELETE ON users BEGIN
        DELETE FROM address_rules WHERE user = old.name;
      END;

      CREATE TABLE user_limits (
        user         TEXT    NOT NULL PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
        up_bps       INTEGER NOT NULL DEFAULT 0 CHECK (up_bps >= 0),
        down_bps     INTEGER NOT NULL DEFAULT 0 CHECK (down_bps >= 0),
        max_sessions INTEGER NOT NULL DEFAULT 0 CHECK (max_sessions >= 0)
      ) STRICT;
    `,
  },
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
