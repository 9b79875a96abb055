/**
 * SQLite tables for processes sharing one store: escrow grants of quota
 * (grant-types.ts), writer leases and MD5 checkpoints of uploads
 * (upload-share-types.ts). Each call is one IMMEDIATE transaction: SQLite lets
 * one writer in at a time, so a read-then-write inside it is exact across
 * processes. Times are milliseconds since the epoch by the process's clock
 * (the processes sharing one SQLite file share one machine).
 */
import BetterSqlite3 from 'better-sqlite3';
import type { Database, Statement, Transaction } from 'better-sqlite3';
import { MiniftpError } from '../errors';
import type { GrantSettle, GrantSettled, GrantStore } from './grant-types';
import type { LeaseState, UploadCheckpoint, UploadShareStore } from './upload-share-types';

export const GRANTS_SQL = `
  CREATE TABLE quota_grants (
    user       TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    holder     TEXT    NOT NULL,
    bytes      INTEGER NOT NULL CHECK (bytes >= 0),
    files      INTEGER NOT NULL CHECK (files >= 0),
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user, holder)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE upload_leases (
    user       TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    path       TEXT    NOT NULL,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user, path)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX upload_leases_holder ON upload_leases (holder);

  CREATE TABLE upload_checkpoints (
    user       TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    path       TEXT    NOT NULL,
    bytes      INTEGER NOT NULL CHECK (bytes >= 0),
    state      BLOB    NOT NULL,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (user, path)
  ) STRICT, WITHOUT ROWID;
`;

interface Figures {
  bytes: number;
  files: number;
}

export class SqliteGrantStore implements GrantStore {
  private readonly limits: Statement<[string], { quota_bytes: number; quota_files: number }>;
  private readonly usage: Statement<[string], Figures>;
  private readonly setUsage: Statement<[string, number, number]>;
  private readonly mine: Statement<[string, string], Figures & { expires_at: number }>;
  private readonly others: Statement<[string, string, number], Figures>;
  private readonly putGrant: Statement<[string, string, number, number, number]>;
  private readonly dropGrant: Statement<[string, string]>;
  private readonly sweep: Statement<[string, number]>;
  private readonly tx: Transaction<(s: GrantSettle) => GrantSettled>;

  constructor(db: Database) {
    this.limits = db.prepare('SELECT quota_bytes, quota_files FROM users WHERE name = ?');
    this.usage = db.prepare('SELECT bytes, files FROM usage WHERE user = ?');
    this.setUsage = db.prepare(
      `INSERT INTO usage (user, bytes, files) VALUES (?, ?, ?)
       ON CONFLICT (user) DO UPDATE SET bytes = excluded.bytes, files = excluded.files`,
    );
    this.mine = db.prepare(
      'SELECT bytes, files, expires_at FROM quota_grants WHERE user = ? AND holder = ?',
    );
    this.others = db.prepare(
      `SELECT coalesce(sum(bytes), 0) AS bytes, coalesce(sum(files), 0) AS files
       FROM quota_grants WHERE user = ? AND holder <> ? AND expires_at > ?`,
    );
    this.putGrant = db.prepare(
      `INSERT INTO quota_grants (user, holder, bytes, files, expires_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user, holder) DO UPDATE SET
         bytes = excluded.bytes, files = excluded.files, expires_at = excluded.expires_at`,
    );
    this.dropGrant = db.prepare('DELETE FROM quota_grants WHERE user = ? AND holder = ?');
    this.sweep = db.prepare('DELETE FROM quota_grants WHERE user = ? AND expires_at <= ?');
    this.tx = db.transaction((s: GrantSettle) => this.apply(s));
  }

  settle(s: GrantSettle): Promise<GrantSettled> {
    try {
      return Promise.resolve(this.tx.immediate(s));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private apply(s: GrantSettle): GrantSettled {
    const now = Date.now();
    const account = this.limits.get(s.user);
    if (!account) throw MiniftpError.notFound(`no such user: ${s.user}`);
    const was = this.usage.get(s.user) ?? { bytes: 0, files: 0 };
    const usage = {
      bytes: Math.max(0, was.bytes + s.deltaBytes),
      files: Math.max(0, was.files + s.deltaFiles),
    };
    if (s.deltaBytes !== 0 || s.deltaFiles !== 0)
      this.setUsage.run(s.user, usage.bytes, usage.files);
    const held = this.mine.get(s.user, s.holder);
    // A grant whose lease ran out may have been handed to others already: it holds nothing.
    const live = held !== undefined && held.expires_at > now;
    const others = this.others.get(s.user, s.holder, now) ?? { bytes: 0, files: 0 };
    const bytes = fit(
      live ? held.bytes : 0,
      s.deltaBytes,
      s.release ? 0 : s.wantBytes,
      s.release,
      account.quota_bytes - usage.bytes - others.bytes,
      account.quota_bytes,
    );
    const files = fit(
      live ? held.files : 0,
      s.deltaFiles,
      s.release ? 0 : s.wantFiles,
      s.release,
      account.quota_files - usage.files - others.files,
      account.quota_files,
    );
    this.sweep.run(s.user, now);
    if (bytes.grant === 0 && files.grant === 0) this.dropGrant.run(s.user, s.holder);
    else this.putGrant.run(s.user, s.holder, bytes.grant, files.grant, now + s.leaseMs);
    return {
      usageBytes: usage.bytes,
      usageFiles: usage.files,
      limitBytes: account.quota_bytes,
      limitFiles: account.quota_files,
      grantBytes: bytes.grant,
      grantFiles: files.grant,
      freeBytes: bytes.free,
      freeFiles: files.free,
    };
  }
}

/**
 * One unit (bytes or files) of a settle: the grant after the holder's change
 * is taken from it, trimmed to what the limit leaves (`room`: limit − usage −
 * others' live grants), plus what is wanted of what is free.
 */
export function fit(
  held: number,
  delta: number,
  want: number,
  release: boolean,
  room: number,
  limit: number,
): { grant: number; free: number } {
  if (limit === 0) return { grant: 0, free: 0 };
  let grant = release ? 0 : Math.max(0, held - Math.max(0, delta));
  grant = Math.min(grant, Math.max(0, room));
  const free = Math.max(0, room - grant);
  const more = Math.min(want, free);
  return { grant: grant + more, free: free - more };
}

export class SqliteUploadShareStore implements UploadShareStore {
  private readonly getLease: Statement<[string, string], { holder: string; expires_at: number }>;
  private readonly putLease: Statement<[string, string, string, number]>;
  private readonly dropLease: Statement<[string, string, string]>;
  private readonly renewStmt: Statement<[number, string]>;
  private readonly putCp: Statement<[string, string, number, Buffer, string]>;
  private readonly getCp: Statement<[string, string], { bytes: number; state: Buffer }>;
  private readonly dropCp: Statement<[string, string, string]>;
  private readonly takeTx: Transaction<
    (user: string, path: string, holder: string, leaseMs: number) => LeaseState
  >;

  constructor(db: Database) {
    this.getLease = db.prepare(
      'SELECT holder, expires_at FROM upload_leases WHERE user = ? AND path = ?',
    );
    this.putLease = db.prepare(
      `INSERT INTO upload_leases (user, path, holder, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (user, path) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at`,
    );
    this.dropLease = db.prepare(
      'DELETE FROM upload_leases WHERE user = ? AND path = ? AND holder = ?',
    );
    this.renewStmt = db.prepare('UPDATE upload_leases SET expires_at = ? WHERE holder = ?');
    this.putCp = db.prepare(
      `INSERT INTO upload_checkpoints (user, path, bytes, state, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user, path) DO UPDATE SET
         bytes = excluded.bytes, state = excluded.state, updated_at = excluded.updated_at`,
    );
    this.getCp = db.prepare(
      'SELECT bytes, state FROM upload_checkpoints WHERE user = ? AND path = ?',
    );
    // A prefix test with substr rather than LIKE: '%' and '_' are ordinary file name characters.
    this.dropCp = db.prepare(
      `DELETE FROM upload_checkpoints
       WHERE user = ? AND (path = ?2 OR substr(path, 1, length(?2) + 1) = ?3)`,
    );
    this.takeTx = db.transaction((user: string, path: string, holder: string, leaseMs: number) => {
      const now = Date.now();
      const cur = this.getLease.get(user, path);
      if (cur && cur.holder !== holder && cur.expires_at > now) {
        return { taken: false, holder: cur.holder, expiresInMs: cur.expires_at - now };
      }
      this.putLease.run(user, path, holder, now + leaseMs);
      return { taken: true, holder, expiresInMs: leaseMs };
    });
  }

  takeLease(user: string, path: string, holder: string, leaseMs: number): Promise<LeaseState> {
    return attempt(() => this.takeTx.immediate(user, path, holder, leaseMs));
  }

  releaseLease(user: string, path: string, holder: string): Promise<void> {
    return attempt(() => void this.dropLease.run(user, path, holder));
  }

  renewLeases(holder: string, leaseMs: number): Promise<void> {
    return attempt(() => void this.renewStmt.run(Date.now() + leaseMs, holder));
  }

  putCheckpoint(user: string, path: string, c: UploadCheckpoint): Promise<void> {
    return attempt(
      () =>
        void this.putCp.run(user, path, c.bytes, Buffer.from(c.state), new Date().toISOString()),
    );
  }

  getCheckpoint(user: string, path: string): Promise<UploadCheckpoint | undefined> {
    return attempt(() => {
      const row = this.getCp.get(user, path);
      return row && { bytes: row.bytes, state: new Uint8Array(row.state) };
    });
  }

  dropCheckpoints(user: string, path: string): Promise<void> {
    return attempt(() => void this.dropCp.run(user, path, `${path}/`));
  }
}

function attempt<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/** The tables above on their own connection to the database `file` (opened and migrated by openStore). */
export interface SqliteSharing {
  readonly grants: GrantStore;
  readonly uploads: UploadShareStore;
  close(): void;
}

export function openSharing(file: string): SqliteSharing {
  const db = new BetterSqlite3(file);
  try {
    // Another process's transaction holds the file for at most a few milliseconds.
    db.pragma('busy_timeout = 2000');
    db.pragma('foreign_keys = ON');
    return {
      grants: new SqliteGrantStore(db),
      uploads: new SqliteUploadShareStore(db),
      close: () => {
        if (db.open) db.close();
      },
    };
  } catch (err) {
    db.close();
    throw err;
  }
}
