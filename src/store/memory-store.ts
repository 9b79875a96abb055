import { MiniftpError } from '../errors';
import type {
  KeyStore,
  NewUser,
  PublicKeyRecord,
  Store,
  UploadRecord,
  UploadStore,
  UsageRecord,
  UsageStore,
  UserRecord,
  UserStore,
} from './types';

/**
 * The `Store` contract without SQLite, for unit tests of the layers above. It mirrors
 * sqlite-store.ts on everything a caller can observe: errors, defaults, ordering, cascades.
 */

function noSuchUser(name: string): MiniftpError {
  return MiniftpError.notFound(`no such user: ${name}`);
}

/** The same rule the SQLite schema enforces with STRICT INTEGER columns and CHECKs. */
function count(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw MiniftpError.invalid('a count or size must be a whole number of at least 0');
  }
  return value;
}

/** Binary order, as SQLite sorts TEXT by default. */
function byName(a: UserRecord, b: UserRecord): number {
  if (a.name === b.name) return 0;
  return a.name < b.name ? -1 : 1;
}

function isAtOrUnder(filePath: string, dir: string): boolean {
  return filePath === dir || filePath.startsWith(`${dir}/`);
}

/** The shared tables; each sub-store sees all of them so that deleting a user can cascade. */
interface Tables {
  readonly users: Map<string, UserRecord>;
  /** Per user, in the order added. */
  readonly keys: Map<string, PublicKeyRecord[]>;
  readonly usage: Map<string, UsageRecord>;
  /** Per user, by path. */
  readonly uploads: Map<string, Map<string, UploadRecord>>;
}

class MemoryUserStore implements UserStore {
  constructor(private readonly tables: Tables) {}

  get(name: string): UserRecord | undefined {
    return this.tables.users.get(name);
  }

  list(): UserRecord[] {
    return [...this.tables.users.values()].sort(byName);
  }

  create(user: NewUser): UserRecord {
    if (this.tables.users.has(user.name)) {
      throw MiniftpError.exists(`user ${user.name} already exists`);
    }
    const record: UserRecord = Object.freeze({
      name: user.name,
      passwordHash: user.passwordHash,
      quotaBytes: count(user.quotaBytes),
      quotaFiles: count(user.quotaFiles),
      disabled: false,
      isAdmin: user.isAdmin,
      createdAt: new Date().toISOString(),
      lastLoginAt: null,
    });
    this.tables.users.set(record.name, record);
    return record;
  }

  delete(name: string): boolean {
    if (!this.tables.users.delete(name)) return false;
    this.tables.keys.delete(name);
    this.tables.usage.delete(name);
    this.tables.uploads.delete(name);
    return true;
  }

  setPasswordHash(name: string, hash: string): void {
    this.update(name, { passwordHash: hash });
  }

  setQuota(name: string, quotaBytes: number, quotaFiles?: number): void {
    if (!this.tables.users.has(name)) throw noSuchUser(name);
    this.update(name, {
      quotaBytes: count(quotaBytes),
      ...(quotaFiles === undefined ? {} : { quotaFiles: count(quotaFiles) }),
    });
  }

  setDisabled(name: string, disabled: boolean): void {
    this.update(name, { disabled });
  }

  touchLogin(name: string, at: Date): void {
    this.update(name, { lastLoginAt: at.toISOString() });
  }

  private update(name: string, change: Partial<UserRecord>): void {
    const current = this.tables.users.get(name);
    if (!current) throw noSuchUser(name);
    this.tables.users.set(name, Object.freeze({ ...current, ...change }));
  }
}

class MemoryKeyStore implements KeyStore {
  constructor(private readonly tables: Tables) {}

  add(key: Omit<PublicKeyRecord, 'addedAt'>): PublicKeyRecord {
    if (!this.tables.users.has(key.user)) throw noSuchUser(key.user);
    const keys = this.tables.keys.get(key.user) ?? [];
    if (keys.some((k) => k.fingerprint === key.fingerprint)) {
      throw MiniftpError.exists(`key ${key.fingerprint} is already on user ${key.user}`);
    }
    const record: PublicKeyRecord = Object.freeze({
      user: key.user,
      algo: key.algo,
      data: key.data,
      comment: key.comment,
      fingerprint: key.fingerprint,
      addedAt: new Date().toISOString(),
    });
    this.tables.keys.set(key.user, [...keys, record]);
    return record;
  }

  list(user: string): PublicKeyRecord[] {
    return [...(this.tables.keys.get(user) ?? [])];
  }

  remove(user: string, fingerprint: string): boolean {
    const keys = this.tables.keys.get(user) ?? [];
    const kept = keys.filter((k) => k.fingerprint !== fingerprint);
    if (kept.length === keys.length) return false;
    this.tables.keys.set(user, kept);
    return true;
  }
}

class MemoryUsageStore implements UsageStore {
  constructor(private readonly tables: Tables) {}

  get(user: string): UsageRecord {
    return this.tables.usage.get(user) ?? { bytes: 0, files: 0, scannedAt: null };
  }

  set(user: string, bytes: number, files: number, scannedAt?: Date): void {
    if (!this.tables.users.has(user)) throw noSuchUser(user);
    const previous = this.tables.usage.get(user);
    this.tables.usage.set(
      user,
      Object.freeze({
        bytes: count(bytes),
        files: count(files),
        // Without a scan time this is a running total after a write: the last scan time stays.
        scannedAt: scannedAt ? scannedAt.toISOString() : (previous?.scannedAt ?? null),
      }),
    );
  }
}

class MemoryUploadStore implements UploadStore {
  constructor(private readonly tables: Tables) {}

  get(user: string, filePath: string): UploadRecord | undefined {
    return this.tables.uploads.get(user)?.get(filePath);
  }

  put(record: Omit<UploadRecord, 'updatedAt'>): void {
    if (!this.tables.users.has(record.user)) throw noSuchUser(record.user);
    const stored: UploadRecord = Object.freeze({
      user: record.user,
      path: record.path,
      bytes: count(record.bytes),
      md5: record.md5,
      fileSize: count(record.fileSize),
      fileMtimeMs: record.fileMtimeMs,
      updatedAt: new Date().toISOString(),
    });
    let byPath = this.tables.uploads.get(record.user);
    if (!byPath) {
      byPath = new Map();
      this.tables.uploads.set(record.user, byPath);
    }
    byPath.set(record.path, stored);
  }

  delete(user: string, filePath: string): void {
    this.tables.uploads.get(user)?.delete(filePath);
  }

  paths(user: string): string[] {
    return [...(this.tables.uploads.get(user)?.keys() ?? [])];
  }

  rename(user: string, from: string, to: string): void {
    const byPath = this.tables.uploads.get(user);
    if (!byPath || from === to) return;
    // Whatever the rename replaced on disk is gone, and so is its ledger.
    for (const p of [...byPath.keys()]) {
      if (isAtOrUnder(p, to)) byPath.delete(p);
    }
    const moving = [...byPath.values()].filter((r) => isAtOrUnder(r.path, from));
    for (const r of moving) byPath.delete(r.path);
    for (const r of moving) {
      const moved = to + r.path.slice(from.length);
      byPath.set(moved, Object.freeze({ ...r, path: moved }));
    }
  }
}

class MemoryStore implements Store {
  readonly users: UserStore;
  readonly keys: KeyStore;
  readonly usage: UsageStore;
  readonly uploads: UploadStore;

  constructor() {
    const tables: Tables = {
      users: new Map(),
      keys: new Map(),
      usage: new Map(),
      uploads: new Map(),
    };
    this.users = new MemoryUserStore(tables);
    this.keys = new MemoryKeyStore(tables);
    this.usage = new MemoryUsageStore(tables);
    this.uploads = new MemoryUploadStore(tables);
  }

  close(): void {
    // Nothing to release; the maps go when the store is dropped.
  }
}

/** A fresh, empty store that lives only as long as the returned object. */
export function createMemoryStore(): Store {
  return new MemoryStore();
}
