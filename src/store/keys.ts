/** Public keys of the accounts: the `public_keys` table. */
import { MiniftpError } from '../errors';
import { noSuchUser, translate, type Sql } from './engine/sql';
import type { KeyStore, PublicKeyRecord } from './types';

interface KeyRow {
  user: string;
  algo: string;
  data: string;
  comment: string;
  fingerprint: string;
  added_at: string;
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

export class SqlKeyStore implements KeyStore {
  constructor(private readonly sql: Sql) {}

  async add(key: Omit<PublicKeyRecord, 'addedAt'>): Promise<PublicKeyRecord> {
    const row: KeyRow = {
      user: key.user,
      algo: key.algo,
      data: key.data,
      comment: key.comment,
      fingerprint: key.fingerprint,
      added_at: new Date().toISOString(),
    };
    try {
      await this.sql.run(
        `INSERT INTO public_keys ("user", algo, data, comment, fingerprint, added_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [row.user, row.algo, row.data, row.comment, row.fingerprint, row.added_at],
      );
    } catch (err) {
      throw translate(this.sql, err, {
        exists: () => MiniftpError.exists(`key ${key.fingerprint} is already on user ${key.user}`),
        foreignKey: () => noSuchUser(key.user),
      });
    }
    return toKey(row);
  }

  async list(user: string): Promise<PublicKeyRecord[]> {
    // rowid breaks ties between keys added within the same millisecond (PostgreSQL's table has
    // a column of that name, filled from a sequence).
    const rows = await this.sql.all<KeyRow>(
      'SELECT * FROM public_keys WHERE "user" = $1 ORDER BY added_at, rowid',
      [user],
    );
    return rows.map(toKey);
  }

  async remove(user: string, fingerprint: string): Promise<boolean> {
    const changed = await this.sql.run(
      'DELETE FROM public_keys WHERE "user" = $1 AND fingerprint = $2',
      [user, fingerprint],
    );
    return changed > 0;
  }
}
