/**
 * What the stored usage counts for a file under a writer lease (the charge its holder's settles
 * record, see grants.ts), and the correction once the holder is gone: the file's size on the
 * disk minus that charge, added to the usage in the transaction that ends or takes over the
 * lease, so that whoever notices first corrects it, once.
 */
import { dbNow } from './clock';
import type { Sql } from './engine/sql';
import type { OpenCharge } from './grant-types';
import type { DiskFile, ExpiredLease } from './upload-share-types';

/** How long a correction is remembered for a holder that might come back (ms): a day. */
const CORRECTIONS_KEPT_MS = 24 * 3600 * 1000;

/** The columns of upload_leases LeaseRow reads. */
export const LEASE_COLUMNS =
  '"user", path, holder, expires_at, file_key, charged, charged_size, charged_names, seen_size, released';

export interface LeaseRow {
  user: string;
  path: string;
  holder: string;
  expires_at: number | string;
  file_key: string;
  charged: number | string;
  charged_size: number | string;
  charged_names: number | string;
  seen_size: number | string | null;
  released: number | string;
}

export function leaseOf(row: LeaseRow): ExpiredLease & { charged: boolean } {
  return {
    user: row.user,
    path: row.path,
    holder: row.holder,
    key: row.file_key,
    expiresAt: Number(row.expires_at),
    charged: Number(row.charged) === 1,
    chargedSize: Number(row.charged_size),
    chargedNames: Number(row.charged_names),
    seenSize: row.seen_size === null ? undefined : Number(row.seen_size),
  };
}

/**
 * Adds to the usage what the file `lease` was for holds beyond its recorded charge (negative
 * when it holds less: a write reserved and committed that never reached the disk). Nothing when
 * no charge was recorded (the file is not charged to the user's shared usage, or the holder died
 * before its first settle) or the file at the path is another one, or none: a rename or removal
 * since changed what the usage counts in ways the lease does not tell.
 */
export async function correctLease(
  tx: Sql,
  lease: ExpiredLease & { charged: boolean },
  file: DiskFile | undefined,
): Promise<number | undefined> {
  if (!lease.charged || !file || file.key !== lease.key) return undefined;
  const size = lease.seenSize ?? file.size;
  const delta = (size - lease.chargedSize) * Math.max(lease.chargedNames, 1);
  if (delta === 0) return 0;
  const was = await tx.get<{ bytes: number | string }>(
    'SELECT bytes FROM "usage" WHERE "user" = $1',
    [lease.user],
  );
  if (!was) return undefined;
  await tx.run('UPDATE "usage" SET bytes = $2 WHERE "user" = $1', [
    lease.user,
    Math.max(0, Number(was.bytes) + delta),
  ]);
  const now = await dbNow(tx);
  await tx.run(
    `INSERT INTO lease_corrections ("user", holder, file_key, bytes, at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT ("user", holder, file_key) DO UPDATE SET
       bytes = lease_corrections.bytes + excluded.bytes, at = excluded.at`,
    [lease.user, lease.holder, lease.key, delta, now],
  );
  await tx.run('DELETE FROM lease_corrections WHERE at < $1', [now - CORRECTIONS_KEPT_MS]);
  return delta;
}

/**
 * What corrections added for files `holder` still reports in a settle (`charges`): it was
 * thought dead and is not, and its settle commits those bytes itself. Forgets them, and returns
 * their sum, for the settle to take back from the usage.
 */
export async function correctionsToUndo(
  tx: Sql,
  user: string,
  holder: string,
  charges: readonly OpenCharge[],
): Promise<number> {
  if (charges.length === 0) return 0;
  const rows = await tx.all<{ file_key: string; bytes: number | string }>(
    'SELECT file_key, bytes FROM lease_corrections WHERE "user" = $1 AND holder = $2',
    [user, holder],
  );
  let undo = 0;
  for (const row of rows) {
    if (!charges.some((c) => c.key === row.file_key)) continue;
    undo += Number(row.bytes);
    await tx.run(
      'DELETE FROM lease_corrections WHERE "user" = $1 AND holder = $2 AND file_key = $3',
      [user, holder, row.file_key],
    );
  }
  return undo;
}
