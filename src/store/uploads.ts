/** Upload records (bytes received from offset 0 and their MD5): the `uploads` table. */
import { count, noSuchUser, translate, type Db } from './engine/sql';
import type { UploadRecord, UploadStore } from './types';

interface UploadRow {
  user: string;
  path: string;
  bytes: number;
  md5: string;
  file_size: number;
  file_mtime_ms: number;
  updated_at: string;
}

function toUpload(row: UploadRow): UploadRecord {
  return {
    user: row.user,
    path: row.path,
    bytes: Number(row.bytes),
    md5: row.md5,
    fileSize: Number(row.file_size),
    fileMtimeMs: Number(row.file_mtime_ms),
    updatedAt: row.updated_at,
  };
}

/**
 * `path = $2` or below it. A prefix test with substr rather than LIKE: '%' and '_' are ordinary
 * file name characters. length() and substr() both count characters in both databases, so no
 * JS-side length (UTF-16 units) is mixed in.
 */
const AT_OR_UNDER = `"user" = $1 AND (path = $2 OR substr(path, 1, length(CAST($2 AS TEXT)) + 1) = $2 || '/')`;

export class SqlUploadStore implements UploadStore {
  constructor(private readonly sql: Db) {}

  async get(user: string, filePath: string): Promise<UploadRecord | undefined> {
    const row = await this.sql.get<UploadRow>(
      'SELECT * FROM uploads WHERE "user" = $1 AND path = $2',
      [user, filePath],
    );
    return row && toUpload(row);
  }

  async put(record: Omit<UploadRecord, 'updatedAt'>): Promise<void> {
    try {
      await this.sql.run(
        `INSERT INTO uploads ("user", path, bytes, md5, file_size, file_mtime_ms, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT ("user", path) DO UPDATE SET
           bytes = excluded.bytes,
           md5 = excluded.md5,
           file_size = excluded.file_size,
           file_mtime_ms = excluded.file_mtime_ms,
           updated_at = excluded.updated_at`,
        [
          record.user,
          record.path,
          count(record.bytes),
          record.md5,
          count(record.fileSize),
          record.fileMtimeMs,
          new Date().toISOString(),
        ],
      );
    } catch (err) {
      throw translate(this.sql, err, { foreignKey: () => noSuchUser(record.user) });
    }
  }

  async delete(user: string, filePath: string): Promise<void> {
    await this.sql.run('DELETE FROM uploads WHERE "user" = $1 AND path = $2', [user, filePath]);
  }

  async paths(user: string): Promise<string[]> {
    const rows = await this.sql.all<{ path: string }>(
      'SELECT path FROM uploads WHERE "user" = $1',
      [user],
    );
    return rows.map((r) => r.path);
  }

  async rename(user: string, from: string, to: string): Promise<void> {
    if (from === to) return;
    await this.sql.transaction(async (tx) => {
      // Whatever the rename replaced on disk is gone, and so is its ledger.
      await tx.run(`DELETE FROM uploads WHERE ${AT_OR_UNDER}`, [user, to]);
      await tx.run(
        `UPDATE uploads SET path = $3 || substr(path, length(CAST($2 AS TEXT)) + 1)
         WHERE ${AT_OR_UNDER}`,
        [user, from, to],
      );
    });
  }
}
