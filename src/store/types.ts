import type { AccessStore } from './access-types';

/**
 * What the rest of MiniFTP may ask of the embedded store. `sqlite-store.ts`
 * implements it over better-sqlite3; every call is synchronous (SQLite in WAL
 * mode is fast enough that an async wrapper would only add latency).
 */

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
  get(name: string): UserRecord | undefined;
  /** Sorted by name. */
  list(): UserRecord[];
  /** Throws MiniftpError('exists') when the name is taken. */
  create(user: NewUser): UserRecord;
  /** Also removes the user's keys, usage and upload records. False when there was no such user. */
  delete(name: string): boolean;
  setPasswordHash(name: string, hash: string): void;
  setQuota(name: string, quotaBytes: number, quotaFiles?: number): void;
  setDisabled(name: string, disabled: boolean): void;
  touchLogin(name: string, at: Date): void;
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
  add(key: Omit<PublicKeyRecord, 'addedAt'>): PublicKeyRecord;
  list(user: string): PublicKeyRecord[];
  remove(user: string, fingerprint: string): boolean;
}

export interface UsageRecord {
  readonly bytes: number;
  readonly files: number;
  /** ISO-8601 of the last full scan of the home, or null. */
  readonly scannedAt: string | null;
}

export interface UsageStore {
  get(user: string): UsageRecord;
  set(user: string, bytes: number, files: number, scannedAt?: Date): void;
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
  get(user: string, path: string): UploadRecord | undefined;
  put(record: Omit<UploadRecord, 'updatedAt'>): void;
  delete(user: string, path: string): void;
  /** The paths that have a record. */
  paths(user: string): string[];
  /** Moves records at `from` (and below it, when it is a directory) to `to`. */
  rename(user: string, from: string, to: string): void;
}

export interface Store {
  readonly users: UserStore;
  readonly keys: KeyStore;
  readonly usage: UsageStore;
  readonly uploads: UploadStore;
  /** Groups, shared folders, grants and per-path permissions (see access-types.ts); none: no folders. */
  readonly access?: AccessStore;
  close(): void;
}
