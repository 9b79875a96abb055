/** What each user holds, as last written by the quota ledger: the `usage` table. */
import { count, noSuchUser, translate, type Sql } from './engine/sql';
import type { UsageRecord, UsageStore } from './types';

interface UsageRow {
  bytes: number;
  files: number;
  scanned_at: string | null;
}

export class SqlUsageStore implements UsageStore {
  constructor(private readonly sql: Sql) {}

  async get(user: string): Promise<UsageRecord> {
    const row = await this.sql.get<UsageRow>(
      'SELECT bytes, files, scanned_at FROM "usage" WHERE "user" = $1',
      [user],
    );
    if (!row) return { bytes: 0, files: 0, scannedAt: null };
    return { bytes: Number(row.bytes), files: Number(row.files), scannedAt: row.scanned_at };
  }

  async set(user: string, bytes: number, files: number, scannedAt?: Date): Promise<void> {
    try {
      // Without a scan time this is a running total after a write: the last scan time stays.
      await this.sql.run(
        `INSERT INTO "usage" ("user", bytes, files, scanned_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT ("user") DO UPDATE SET
           bytes = excluded.bytes,
           files = excluded.files,
           scanned_at = coalesce(excluded.scanned_at, "usage".scanned_at)`,
        [user, count(bytes), count(files), scannedAt ? scannedAt.toISOString() : null],
      );
    } catch (err) {
      throw translate(this.sql, err, { foreignKey: () => noSuchUser(user) });
    }
  }
}
