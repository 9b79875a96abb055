/**
 * What the rest of MiniFTP may ask of the store. Every call is asynchronous: the store may be
 * SQLite in the data directory (better-sqlite3, synchronous inside) or a database server shared
 * by several processes and nodes. `open.ts` opens one; each area (users, keys, usage, uploads)
 * is one file of SQL over `Sql` (sql.ts) that runs on either.
 */
import type { AccessStore } from './access-types';
import type { Sql } from './engine/sql';
import type { OpsStore } from './ops-types';

export interface UserRecord {
  readonly name: string;
  readonly passwordHash: string;
  /** Bytes; 0 = unlimited. */
  readonly quotaBytes: number;
  /** Number of files; 0 = unlimited. */
  readonly quotaFiles: number;
  readonly disabled: boolean;
  readonly isAdmin: boolean;
  /** ISO-8601. */
  readonly createdAt: string;
  /** ISO-8601, or null before the first login. */
  readonly lastLoginAt: string | null;
}

export interface NewUser {
  readonly name: string;
  readonly passwordHash: string;
  readonly quotaBytes: number;
  readonly quotaFiles: number;
  readonly isAdmin: boolean;
}

export interface UserStore {
  get(name: string): Promise<UserRecord | undefined>;
  /** Sorted by name. */
  list(): Promise<UserRecord[]>;
  /** Throws MiniftpError('exists') when the name is taken. */
  create(user: NewUser): Promise<UserRecord>;
  /** Also removes the user's keys, usage and upload records. False when there was no such user. */
  delete(name: string): Promise<boolean>;
  setPasswordHash(name: string, hash: string): Promise<void>;
  setQuota(name: string, quotaBytes: number, quotaFiles?: number): Promise<void>;
  setDisabled(name: string, disabled: boolean): Promise<void>;
  touchLogin(name: string, at: Date): Promise<void>;
}

export interface PublicKeyRecord {
  readonly user: string;
  /** e.g. "ssh-ed25519". */
  readonly algo: string;
  /** The key blob as in authorized_keys (base64 of the SSH wire encoding). */
  readonly data: string;
  readonly comment: string;
  /** "SHA256:…" as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
  readonly addedAt: string;
}

export interface KeyStore {
  /** Throws MiniftpError('exists') when that fingerprint is already on the user. */
  add(key: Omit<PublicKeyRecord, 'addedAt'>): Promise<PublicKeyRecord>;
  list(user: string): Promise<PublicKeyRecord[]>;
  remove(user: string, fingerprint: string): Promise<boolean>;
}

export interface UsageRecord {
  readonly bytes: number;
  readonly files: number;
  /** ISO-8601 of the last full scan of the home, or null. */
  readonly scannedAt: string | null;
}

export interface UsageStore {
  get(user: string): Promise<UsageRecord>;
  set(user: string, bytes: number, files: number, scannedAt?: Date): Promise<void>;
}

/** A file being uploaded: bytes received contiguously from offset 0 and their MD5. */
export interface UploadRecord {
  readonly user: string;
  /** Virtual path inside the user's home, e.g. "/dir/file.bin". */
  readonly path: string;
  readonly bytes: number;
  /** Hex MD5 of the first `bytes` bytes. */
  readonly md5: string;
  /** Size and mtime (ms) of the file when recorded, to notice changes behind the server's back. */
  readonly fileSize: number;
  readonly fileMtimeMs: number;
  readonly updatedAt: string;
}

export interface UploadStore {
  get(user: string, path: string): Promise<UploadRecord | undefined>;
  put(record: Omit<UploadRecord, 'updatedAt'>): Promise<void>;
  delete(user: string, path: string): Promise<void>;
  /** The paths that have a record. */
  paths(user: string): Promise<string[]>;
  /** Moves records at `from` (and below it, when it is a directory) to `to`. */
  rename(user: string, from: string, to: string): Promise<void>;
}

export interface Store {
  /** Which database holds the data: 'sqlite' (the data directory) or 'postgres' (--store-url). */
  readonly kind: 'sqlite' | 'postgres';
  /** Where the data is, for messages and logs: a file path, or a URL without its password. */
  readonly location: string;
  readonly users: UserStore;
  readonly keys: KeyStore;
  readonly usage: UsageStore;
  readonly uploads: UploadStore;
  /** Groups, shared folders, grants, per-path permissions and uploaders (see access-types.ts). */
  readonly access: AccessStore;
  /** Hook outbox, login history, address rules, per-user transfer limits (ops-types.ts). */
  readonly ops: OpsStore;
  /**
   * Runs `fn` in one transaction and commits what it did, or rolls it all back when it throws.
   * Meant for read-then-write changes (`UPDATE … WHERE used + reserved + $1 <= quota`, a SELECT
   * then an INSERT): two of them never both act on the same rows as they were. SQLite takes the
   * write lock at the start (BEGIN IMMEDIATE); PostgreSQL runs it SERIALIZABLE on one
   * connection and runs `fn` again when the database reports a conflict with another
   * transaction, so `fn` must do nothing but statements on `tx` (no other effects) and may run
   * more than once. Statements outside `tx` wait for the transaction on SQLite: never await
   * another store call from inside `fn`.
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  /** Statements outside any transaction, for the areas of the store (see sql.ts). */
  readonly sql: Sql;
  /** Lets go of the database (waits for statements in progress). */
  close(): Promise<void>;
}
