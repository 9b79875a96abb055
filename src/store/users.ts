/** Accounts: the `users` table. */
import { MiniftpError } from '../errors';
import { count, noSuchUser, translate, type Sql } from './engine/sql';
import type { NewUser, UserRecord, UserStore } from './types';

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

function toUser(row: UserRow): UserRecord {
  return {
    name: row.name,
    passwordHash: row.password_hash,
    quotaBytes: Number(row.quota_bytes),
    quotaFiles: Number(row.quota_files),
    disabled: Number(row.disabled) !== 0,
    isAdmin: Number(row.is_admin) !== 0,
    createdAt: row.created_at,
    lastLoginAt: row.last_login_at,
  };
}

export class SqlUserStore implements UserStore {
  constructor(private readonly sql: Sql) {}

  async get(name: string): Promise<UserRecord | undefined> {
    const row = await this.sql.get<UserRow>('SELECT * FROM users WHERE name = $1', [name]);
    return row && toUser(row);
  }

  async list(): Promise<UserRecord[]> {
    // The PostgreSQL schema gives the name the "C" collation: both sort by code point.
    const rows = await this.sql.all<UserRow>('SELECT * FROM users ORDER BY name');
    return rows.map(toUser);
  }

  async create(user: NewUser): Promise<UserRecord> {
    const row: UserRow = {
      name: user.name,
      password_hash: user.passwordHash,
      quota_bytes: count(user.quotaBytes),
      quota_files: count(user.quotaFiles),
      disabled: 0,
      is_admin: user.isAdmin ? 1 : 0,
      created_at: new Date().toISOString(),
      last_login_at: null,
    };
    try {
      await this.sql.run(
        `INSERT INTO users (name, password_hash, quota_bytes, quota_files, disabled, is_admin,
                            created_at, last_login_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          row.name,
          row.password_hash,
          row.quota_bytes,
          row.quota_files,
          row.disabled,
          row.is_admin,
          row.created_at,
          row.last_login_at,
        ],
      );
    } catch (err) {
      throw translate(this.sql, err, {
        exists: () => MiniftpError.exists(`user ${user.name} already exists`),
      });
    }
    return toUser(row);
  }

  /** Keys, usage and upload records go with the user (ON DELETE CASCADE). */
  async delete(name: string): Promise<boolean> {
    return (await this.sql.run('DELETE FROM users WHERE name = $1', [name])) > 0;
  }

  setPasswordHash(name: string, hash: string): Promise<void> {
    return this.mustChange(name, 'UPDATE users SET password_hash = $1 WHERE name = $2', [
      hash,
      name,
    ]);
  }

  setQuota(name: string, quotaBytes: number, quotaFiles?: number): Promise<void> {
    return this.mustChange(
      name,
      'UPDATE users SET quota_bytes = $1, quota_files = coalesce($2, quota_files) WHERE name = $3',
      [count(quotaBytes), quotaFiles === undefined ? null : count(quotaFiles), name],
    );
  }

  setDisabled(name: string, disabled: boolean): Promise<void> {
    return this.mustChange(name, 'UPDATE users SET disabled = $1 WHERE name = $2', [
      disabled ? 1 : 0,
      name,
    ]);
  }

  touchLogin(name: string, at: Date): Promise<void> {
    return this.mustChange(name, 'UPDATE users SET last_login_at = $1 WHERE name = $2', [
      at.toISOString(),
      name,
    ]);
  }

  private async mustChange(
    name: string,
    text: string,
    params: ReadonlyArray<string | number | null>,
  ): Promise<void> {
    let changes: number;
    try {
      changes = await this.sql.run(text, params);
    } catch (err) {
      throw translate(this.sql, err, { foreignKey: () => noSuchUser(name) });
    }
    if (changes === 0) throw noSuchUser(name);
  }
}
