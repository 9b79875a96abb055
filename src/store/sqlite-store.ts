import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Database, Statement } from 'better-sqlite3';
import { MiniftpError } from '../errors';
import { applyMigrations } from './migrations';
import { sqliteOpsStore } from './ops-sqlite';
import type { OpsStore, ServerStore } from './ops-types';
import type {
  KeyStore,
  NewUser,
  PublicKeyRecord,
  UploadRecord,
  UploadStore,
  UsageRecord,
  UsageStore,
  UserRecord,
  UserStore,
} from './types';

export interface OpenStoreOptions {
  /** Path of the database file, or ':memory:' for a throwaway database. */
  readonly file: string;
}

interface UserRow {
  name: string;
  password_hash: string;
  quota_bytes: number;
  quota_files: number;
  disabled: number;
  is_admin: number;
  created_at: string;
  last_login_at: string | null;
}

interface KeyRow {
  user: string;
  algo: string;
  data: string;
  comment: string;
  fingerprint: string;
  added_at: string;
}

interface UsageRow {
  bytes: number;
  files: number;
  scanned_at: string | null;
}

interface UsageParams {
  user: string;
  bytes: number;
  files: number;
  scanned_at: string | null;
}

/** A path and everything below it. */
interface TreeParams {
  user: string;
  dir: string;
}

interface UploadRow {
  user: string;
  path: string;
  bytes: number;
  md5: string;
  file_size: number;
  file_mtime_ms: number;
  updated_at: string;
}

function toUser(row: UserRow): UserRecord {
  return {
    name: row.name,
    passwordHash: row.password_hash,
    quotaBytes: row.quota_bytes,
    quotaFiles: row.quota_files,
    disabled: row.disabled !== 0,
    isAdmin: row.is_admin !== 0,
    createdAt: row.created_at,
    lastLoginAt: row.last_login_at,
  };
}

function toKey(row: KeyRow): PublicKeyRecord {
  return {
    user: row.user,
    algo: row.algo,
    data: row.data,
    comment: row.comment,
    fingerprint: row.fingerprint,
    addedAt: row.added_at,
  };
}

function toUpload(row: UploadRow): UploadRecord {
  return {
    user: row.user,
    path: row.path,
    bytes: row.bytes,
    md5: row.md5,
    fileSize: row.file_size,
    fileMtimeMs: row.file_mtime_ms,
    updatedAt: row.updated_at,
  };
}

function noSuchUser(name: string): MiniftpError {
  return MiniftpError.notFound(`no such user: ${name}`);
}

/**
 * Turns SQLite's constraint failures into the errors callers are promised; `onForeignKey`
 * names the missing parent, which SQLite itself does not report.
 */
function translate(
  err: unknown,
  onExists: () => MiniftpError,
  onForeignKey: () => MiniftpError,
): unknown {
  if (!(err instanceof BetterSqlite3.SqliteError)) return err;
  switch (err.code) {
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
    case 'SQLITE_CONSTRAINT_UNIQUE':
      return onExists();
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
      return onForeignKey();
    case 'SQLITE_CONSTRAINT_CHECK':
    case 'SQLITE_CONSTRAINT_DATATYPE':
      return MiniftpError.invalid('a count or size must be a whole number of at least 0');
    default:
      return err;
  }
}

function unexpectedExists(): MiniftpError {
  return MiniftpError.failure('unexpected duplicate record');
}

class SqliteUserStore implements UserStore {
  private readonly getStmt: Statement<[string], UserRow>;
  private readonly listStmt: Statement<[], UserRow>;
  private readonly insertStmt: Statement<[UserRow]>;
  private readonly deleteStmt: Statement<[string]>;
  private readonly setHashStmt: Statement<[string, string]>;
  private readonly setQuotaStmt: Statement<[number, number | null, string]>;
  private readonly setDisabledStmt: Statement<[number, string]>;
  private readonly touchStmt: Statement<[string, string]>;

  constructor(db: Database) {
    this.getStmt = db.prepare('SELECT * FROM users WHERE name = ?');
    this.listStmt = db.prepare('SELECT * FROM users ORDER BY name');
    this.insertStmt = db.prepare(
      `INSERT INTO users (name, password_hash, quota_bytes, quota_files, disabled, is_admin,
                          created_at, last_login_at)
       VALUES (@name, @password_hash, @quota_bytes, @quota_files, @disabled, @is_admin,
               @created_at, @last_login_at)`,
    );
    this.deleteStmt = db.prepare('DELETE FROM users WHERE name = ?');
    this.setHashStmt = db.prepare('UPDATE users SET password_hash = ? WHERE name = ?');
    this.setQuotaStmt = db.prepare(
      'UPDATE users SET quota_bytes = ?, quota_files = coalesce(?, quota_files) WHERE name = ?',
    );
    this.setDisabledStmt = db.prepare('UPDATE users SET disabled = ? WHERE name = ?');
    this.touchStmt = db.prepare('UPDATE users SET last_login_at = ? WHERE name = ?');
  }

  get(name: string): UserRecord | undefined {
    const row = this.getStmt.get(name);
    return row && toUser(row);
  }

  list(): UserRecord[] {
    return this.listStmt.all().map(toUser);
  }

  create(user: NewUser): UserRecord {
    const row: UserRow = {
      name: user.name,
      password_hash: user.passwordHash,
      quota_bytes: user.quotaBytes,
      quota_files: user.quotaFiles,
      disabled: 0,
      is_admin: user.isAdmin ? 1 : 0,
      created_at: new Date().toISOString(),
      last_login_at: null,
    };
    try {
      this.insertStmt.run(row);
    } catch (err) {
      throw translate(
        err,
        () => MiniftpError.exists(`user ${user.name} already exists`),
        unexpectedExists,
      );
    }
    return toUser(row);
  }

  delete(name: string): boolean {
    return this.deleteStmt.run(name).changes > 0;
  }

  setPasswordHash(name: string, hash: string): void {
    this.mustChange(name, () => this.setHashStmt.run(hash, name).changes);
  }

  setQuota(name: string, quotaBytes: number, quotaFiles?: number): void {
    this.mustChange(
      name,
      () => this.setQuotaStmt.run(quotaBytes, quotaFiles ?? null, name).changes,
    );
  }

  setDisabled(name: string, disabled: boolean): void {
    this.mustChange(name, () => this.setDisabledStmt.run(disabled ? 1 : 0, name).changes);
  }

  touchLogin(name: string, at: Date): void {
    this.mustChange(name, () => this.touchStmt.run(at.toISOString(), name).changes);
  }

  private mustChange(name: string, update: () => number): void {
    let changes: number;
    try {
      changes = update();
    } catch (err) {
      throw translate(err, unexpectedExists, () => noSuchUser(name));
    }
    if (changes === 0) throw noSuchUser(name);
  }
}

class SqliteKeyStore implements KeyStore {
  private readonly insertStmt: Statement<[KeyRow]>;
  private readonly listStmt: Statement<[string], KeyRow>;
  private readonly removeStmt: Statement<[string, string]>;

  constructor(db: Database) {
    this.insertStmt = db.prepare(
      `INSERT INTO public_keys (user, algo, data, comment, fingerprint, added_at)
       VALUES (@user, @algo, @data, @comment, @fingerprint, @added_at)`,
    );
    // rowid breaks ties between keys added within the same millisecond.
    this.listStmt = db.prepare('SELECT * FROM public_keys WHERE user = ? ORDER BY added_at, rowid');
    this.removeStmt = db.prepare('DELETE FROM public_keys WHERE user = ? AND fingerprint = ?');
  }

  add(key: Omit<PublicKeyRecord, 'addedAt'>): PublicKeyRecord {
    const row: KeyRow = {
      user: key.user,
      algo: key.algo,
      data: key.data,
      comment: key.comment,
      fingerprint: key.fingerprint,
      added_at: new Date().toISOString(),
    };
    try {
      this.insertStmt.run(row);
    } catch (err) {
      throw translate(
        err,
        () => MiniftpError.exists(`key ${key.fingerprint} is already on user ${key.user}`),
        () => noSuchUser(key.user),
      );
    }
    return toKey(row);
  }

  list(user: string): PublicKeyRecord[] {
    return this.listStmt.all(user).map(toKey);
  }

  remove(user: string, fingerprint: string): boolean {
    return this.removeStmt.run(user, fingerprint).changes > 0;
  }
}

class SqliteUsageStore implements UsageStore {
  private readonly getStmt: Statement<[string], UsageRow>;
  private readonly setStmt: Statement<[UsageParams]>;

  constructor(db: Database) {
    this.getStmt = db.prepare('SELECT bytes, files, scanned_at FROM usage WHERE user = ?');
    // Without a scan time this is a running total after a write: the last scan time stays.
    this.setStmt = db.prepare(
      `INSERT INTO usage (user, bytes, files, scanned_at) VALUES (@user, @bytes, @files, @scanned_at)
       ON CONFLICT (user) DO UPDATE SET
         bytes = excluded.bytes,
         files = excluded.files,
         scanned_at = coalesce(excluded.scanned_at, usage.scanned_at)`,
    );
  }

  get(user: string): UsageRecord {
    const row = this.getStmt.get(user);
    if (!row) return { bytes: 0, files: 0, scannedAt: null };
    return { bytes: row.bytes, files: row.files, scannedAt: row.scanned_at };
  }

  set(user: string, bytes: number, files: number, scannedAt?: Date): void {
    try {
      this.setStmt.run({
        user,
        bytes,
        files,
        scanned_at: scannedAt ? scannedAt.toISOString() : null,
      });
    } catch (err) {
      throw translate(err, unexpectedExists, () => noSuchUser(user));
    }
  }
}

class SqliteUploadStore implements UploadStore {
  private readonly getStmt: Statement<[string, string], UploadRow>;
  private readonly putStmt: Statement<[UploadRow]>;
  private readonly deleteStmt: Statement<[string, string]>;
  private readonly pathsStmt: Statement<[string], { path: string }>;
  private readonly deleteTreeStmt: Statement<[TreeParams]>;
  private readonly moveTreeStmt: Statement<[TreeParams & { to: string }]>;
  private readonly renameTx: (user: string, from: string, to: string) => void;

  constructor(db: Database) {
    this.getStmt = db.prepare('SELECT * FROM uploads WHERE user = ? AND path = ?');
    this.putStmt = db.prepare(
      `INSERT INTO uploads (user, path, bytes, md5, file_size, file_mtime_ms, updated_at)
       VALUES (@user, @path, @bytes, @md5, @file_size, @file_mtime_ms, @updated_at)
       ON CONFLICT (user, path) DO UPDATE SET
         bytes = excluded.bytes,
         md5 = excluded.md5,
         file_size = excluded.file_size,
         file_mtime_ms = excluded.file_mtime_ms,
         updated_at = excluded.updated_at`,
    );
    this.deleteStmt = db.prepare('DELETE FROM uploads WHERE user = ? AND path = ?');
    this.pathsStmt = db.prepare('SELECT path FROM uploads WHERE user = ?');
    // A prefix test with substr rather than LIKE: '%' and '_' are ordinary file name characters.
    // length() and substr() both count characters, so no JS-side length (UTF-16 units) is mixed in.
    this.deleteTreeStmt = db.prepare(
      `DELETE FROM uploads
       WHERE user = @user AND (path = @dir OR substr(path, 1, length(@dir) + 1) = @dir || '/')`,
    );
    this.moveTreeStmt = db.prepare(
      `UPDATE uploads SET path = @to || substr(path, length(@dir) + 1)
       WHERE user = @user AND (path = @dir OR substr(path, 1, length(@dir) + 1) = @dir || '/')`,
    );
    this.renameTx = db.transaction((user: string, from: string, to: string) => {
      // Whatever the rename replaced on disk is gone, and so is its ledger.
      this.deleteTreeStmt.run({ user, dir: to });
      this.moveTreeStmt.run({ user, dir: from, to });
    });
  }

  get(user: string, filePath: string): UploadRecord | undefined {
    const row = this.getStmt.get(user, filePath);
    return row && toUpload(row);
  }

  put(record: Omit<UploadRecord, 'updatedAt'>): void {
    try {
      this.putStmt.run({
        user: record.user,
        path: record.path,
        bytes: record.bytes,
        md5: record.md5,
        file_size: record.fileSize,
        file_mtime_ms: record.fileMtimeMs,
        updated_at: new Date().toISOString(),
      });
    } catch (err) {
      throw translate(err, unexpectedExists, () => noSuchUser(record.user));
    }
  }

  delete(user: string, filePath: string): void {
    this.deleteStmt.run(user, filePath);
  }

  paths(user: string): string[] {
    return this.pathsStmt.all(user).map((r) => r.path);
  }

  rename(user: string, from: string, to: string): void {
    if (from === to) return;
    this.renameTx(user, from, to);
  }
}

class SqliteStore implements ServerStore {
  readonly ops: OpsStore;
  readonly users: UserStore;
  readonly keys: KeyStore;
  readonly usage: UsageStore;
  readonly uploads: UploadStore;

  constructor(private readonly db: Database) {
    this.users = new SqliteUserStore(db);
    this.keys = new SqliteKeyStore(db);
    this.usage = new SqliteUsageStore(db);
    this.uploads = new SqliteUploadStore(db);
    this.ops = sqliteOpsStore(db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
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
export function openStore(options: OpenStoreOptions): ServerStore {
  const inMemory = options.file === ':memory:';
  if (!inMemory) prepareFile(options.file);
  const db = new BetterSqlite3(options.file);
  try {
    // A server that is stopping gets two seconds to let go of the database.
    db.pragma('busy_timeout = 2000');
    // One server per data directory: the first access takes a lock held until
    // close, so a second server on the same directory fails here instead of
    // serving the same homes with its own idea of everyone's usage.
    if (!inMemory) db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    // NORMAL is durable across application crashes in WAL mode; only a power cut can lose the
    // last transactions, which for usage and upload ledgers are rebuilt from disk anyway.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    applyMigrations(db);
    return new SqliteStore(db);
  } catch (err) {
    db.close();
    if (err instanceof Error && (err as { code?: unknown }).code === 'SQLITE_BUSY') {
      throw MiniftpError.failure('in use by another MiniFTP server (its database is locked)', err);
    }
    throw err;
  }
}
