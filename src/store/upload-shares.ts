/**
 * Writer leases and MD5 checkpoints of uploads (see upload-share-types.ts):
 * the `upload_leases` and `upload_checkpoints` tables.
 */
import { dbNow } from './clock';
import { correctLease, leaseOf, type LeaseRow, LEASE_COLUMNS } from './lease-charges';
import type {
  DiskFile,
  ExpiredLease,
  LeaseState,
  UploadCheckpoint,
  UploadShareStore,
} from './upload-share-types';
import type { Store } from './types';

/** `path = $2` or below it (as in uploads.ts: '%' and '_' are ordinary file name characters). */
const AT_OR_UNDER = `"user" = $1 AND (path = $2 OR substr(path, 1, length(CAST($2 AS TEXT)) + 1) = $2 || '/')`;

export class SqlUploadShareStore implements UploadShareStore {
  constructor(private readonly store: Store) {}

  takeLease(
    user: string,
    path: string,
    holder: string,
    leaseMs: number,
    file?: DiskFile,
  ): Promise<LeaseState> {
    return this.store.transaction(async (tx) => {
      const now = await dbNow(tx);
      const cur = await tx.get<LeaseRow>(
        `SELECT ${LEASE_COLUMNS} FROM upload_leases WHERE "user" = $1 AND path = $2`,
        [user, path],
      );
      const running = cur !== undefined && Number(cur.expires_at) > now;
      // Given back, its holder alive: its next settle commits the close; nothing to correct.
      const givenBack = running && Number(cur.released) === 1;
      if (cur && cur.holder !== holder && running && !givenBack) {
        if (file?.opened && cur.seen_size === null && cur.file_key === file.key) {
          await tx.run('UPDATE upload_leases SET seen_size = $3 WHERE "user" = $1 AND path = $2', [
            user,
            path,
            file.size,
          ]);
        }
        return { taken: false, holder: cur.holder, expiresInMs: Number(cur.expires_at) - now };
      }
      // A holder gone without its last settle: what it wrote since is charged now, once.
      const corrected =
        cur && cur.holder !== holder && !givenBack
          ? await correctLease(tx, leaseOf(cur), file)
          : undefined;
      if (cur && cur.holder === holder && (file === undefined || file.key === cur.file_key)) {
        await tx.run(
          'UPDATE upload_leases SET expires_at = $3, released = 0 WHERE "user" = $1 AND path = $2',
          [user, path, now + leaseMs],
        );
      } else {
        await tx.run(
          `INSERT INTO upload_leases ("user", path, holder, expires_at, file_key, charged,
             charged_size, charged_names, seen_size)
           VALUES ($1, $2, $3, $4, $5, 0, 0, 0, NULL)
           ON CONFLICT ("user", path) DO UPDATE SET
             holder = excluded.holder, expires_at = excluded.expires_at,
             file_key = excluded.file_key, charged = 0, charged_size = 0, charged_names = 0,
             seen_size = NULL, released = 0`,
          [user, path, holder, now + leaseMs, file?.key ?? ''],
        );
      }
      return {
        taken: true,
        holder,
        expiresInMs: leaseMs,
        ...(corrected !== undefined ? { corrected } : {}),
      };
    });
  }

  async expiredLeases(except: string, limit: number): Promise<ExpiredLease[]> {
    const now = await dbNow(this.store.sql);
    const rows = await this.store.sql.all<LeaseRow>(
      `SELECT ${LEASE_COLUMNS} FROM upload_leases
       WHERE expires_at <= $1 AND holder <> $2 AND charged = 1
       ORDER BY expires_at LIMIT $3`,
      [now, except, limit],
    );
    return rows.map(leaseOf);
  }

  settleExpired(lease: ExpiredLease, file: DiskFile | undefined): Promise<number | undefined> {
    return this.store.transaction(async (tx) => {
      const now = await dbNow(tx);
      const cur = await tx.get<LeaseRow>(
        `SELECT ${LEASE_COLUMNS} FROM upload_leases WHERE "user" = $1 AND path = $2`,
        [lease.user, lease.path],
      );
      // Ended or taken over meanwhile (by another process noticing it too): already done.
      if (
        !cur ||
        cur.holder !== lease.holder ||
        Number(cur.expires_at) !== lease.expiresAt ||
        Number(cur.expires_at) > now
      ) {
        return undefined;
      }
      const corrected = await correctLease(tx, leaseOf(cur), file);
      await tx.run('DELETE FROM upload_leases WHERE "user" = $1 AND path = $2', [
        lease.user,
        lease.path,
      ]);
      return corrected ?? 0;
    });
  }

  releaseLease(user: string, path: string, holder: string, size?: number): Promise<void> {
    return this.store.transaction(async (tx) => {
      const cur = await tx.get<LeaseRow>(
        `SELECT ${LEASE_COLUMNS} FROM upload_leases WHERE "user" = $1 AND path = $2 AND holder = $3`,
        [user, path, holder],
      );
      if (!cur) return;
      const lease = leaseOf(cur);
      // The usage counts the file as closed already (or not at all): nothing left to correct.
      if (!lease.charged || size === undefined || lease.chargedSize === size) {
        await tx.run('DELETE FROM upload_leases WHERE "user" = $1 AND path = $2', [user, path]);
        return;
      }
      // Until the holder's next settle commits the size at the close, which deletes it.
      await tx.run('UPDATE upload_leases SET released = 1 WHERE "user" = $1 AND path = $2', [
        user,
        path,
      ]);
    });
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
