/**
 * Writer leases and MD5 checkpoints of uploads (see upload-share-types.ts):
 * the `upload_leases` and `upload_checkpoints` tables.
 */
import { dbNow } from './clock';
import type { LeaseState, UploadCheckpoint, UploadShareStore } from './upload-share-types';
import type { Store } from './types';

/** `path = $2` or below it (as in uploads.ts: '%' and '_' are ordinary file name characters). */
const AT_OR_UNDER = `"user" = $1 AND (path = $2 OR substr(path, 1, length(CAST($2 AS TEXT)) + 1) = $2 || '/')`;

export class SqlUploadShareStore implements UploadShareStore {
  constructor(private readonly store: Store) {}

  takeLease(user: string, path: string, holder: string, leaseMs: number): Promise<LeaseState> {
    return this.store.transaction(async (tx) => {
      const now = await dbNow(tx);
      const cur = await tx.get<{ holder: string; expires_at: number | string }>(
        'SELECT holder, expires_at FROM upload_leases WHERE "user" = $1 AND path = $2',
        [user, path],
      );
      if (cur && cur.holder !== holder && Number(cur.expires_at) > now) {
        return { taken: false, holder: cur.holder, expiresInMs: Number(cur.expires_at) - now };
      }
      await tx.run(
        `INSERT INTO upload_leases ("user", path, holder, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT ("user", path) DO UPDATE SET
           holder = excluded.holder, expires_at = excluded.expires_at`,
        [user, path, holder, now + leaseMs],
      );
      return { taken: true, holder, expiresInMs: leaseMs };
    });
  }

  async releaseLease(user: string, path: string, holder: string): Promise<void> {
    await this.store.sql.run(
      'DELETE FROM upload_leases WHERE "user" = $1 AND path = $2 AND holder = $3',
      [user, path, holder],
    );
  }

  async renewLeases(holder: string, leaseMs: number): Promise<void> {
    const now = await dbNow(this.store.sql);
    await this.store.sql.run('UPDATE upload_leases SET expires_at = $1 WHERE holder = $2', [
      now + leaseMs,
      holder,
    ]);
  }

  async putCheckpoint(user: string, path: string, c: UploadCheckpoint): Promise<void> {
    await this.store.sql.run(
      `INSERT INTO upload_checkpoints ("user", path, bytes, state, updated_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT ("user", path) DO UPDATE SET
         bytes = excluded.bytes, state = excluded.state, updated_at = excluded.updated_at`,
      [user, path, c.bytes, Buffer.from(c.state).toString('base64'), new Date().toISOString()],
    );
  }

  async getCheckpoint(user: string, path: string): Promise<UploadCheckpoint | undefined> {
    const row = await this.store.sql.get<{ bytes: number | string; state: string }>(
      'SELECT bytes, state FROM upload_checkpoints WHERE "user" = $1 AND path = $2',
      [user, path],
    );
    if (!row) return undefined;
    return { bytes: Number(row.bytes), state: new Uint8Array(Buffer.from(row.state, 'base64')) };
  }

  async dropCheckpoints(user: string, path: string): Promise<void> {
    await this.store.sql.run(`DELETE FROM upload_checkpoints WHERE ${AT_OR_UNDER}`, [user, path]);
  }
}
