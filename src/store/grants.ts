/**
 * Escrow grants of quota (see grant-types.ts): the `quota_grants` table, with
 * the `usage` table and the users' limits, changed together in one
 * transaction per settle, so that usage + Σ live grants ≤ limit holds across
 * every process sharing the store.
 */
import { MiniftpError } from '../errors';
import { dbNow } from './clock';
import { correctionsToUndo } from './lease-charges';
import type { Sql } from './engine/sql';
import type { GrantSettle, GrantSettled, GrantStore } from './grant-types';
import type { Store } from './types';

interface Figures {
  bytes: number | string;
  files: number | string;
}

/**
 * One unit (bytes or files) of a settle: the grant after the holder's change
 * is taken from it, trimmed to what the limit leaves (`room`: limit − usage −
 * others' live grants), plus what is wanted of what is free. No limit: no grant.
 */
export function fit(o: {
  held: number;
  delta: number;
  want: number;
  release: boolean;
  room: number;
  limit: number;
}): { grant: number; free: number } {
  if (o.limit === 0) return { grant: 0, free: 0 };
  let grant = o.release ? 0 : Math.max(0, o.held - Math.max(0, o.delta));
  grant = Math.min(grant, Math.max(0, o.room));
  const free = Math.max(0, o.room - grant);
  const more = o.release ? 0 : Math.min(o.want, free);
  return { grant: grant + more, free: free - more };
}

export class SqlGrantStore implements GrantStore {
  constructor(private readonly store: Store) {}

  settle(s: GrantSettle): Promise<GrantSettled> {
    return this.store.transaction((tx) => apply(tx, s));
  }
}

async function apply(tx: Sql, s: GrantSettle): Promise<GrantSettled> {
  const now = await dbNow(tx);
  const account = await tx.get<{ quota_bytes: number | string; quota_files: number | string }>(
    'SELECT quota_bytes, quota_files FROM users WHERE name = $1',
    [s.user],
  );
  if (!account) throw MiniftpError.notFound(`no such user: ${s.user}`);
  const limitBytes = Number(account.quota_bytes);
  const limitFiles = Number(account.quota_files);
  const was = await tx.get<Figures>('SELECT bytes, files FROM "usage" WHERE "user" = $1', [s.user]);
  // Files of this holder corrected as if it had died: it commits their bytes now itself.
  const undo = await correctionsToUndo(tx, s.user, s.holder, s.charges ?? []);
  const usageBytes = Math.max(0, Number(was?.bytes ?? 0) + s.deltaBytes - undo);
  const usageFiles = Math.max(0, Number(was?.files ?? 0) + s.deltaFiles);
  if (s.deltaBytes !== 0 || s.deltaFiles !== 0 || undo !== 0 || !was) {
    await tx.run(
      `INSERT INTO "usage" ("user", bytes, files) VALUES ($1, $2, $3)
       ON CONFLICT ("user") DO UPDATE SET bytes = excluded.bytes, files = excluded.files`,
      [s.user, usageBytes, usageFiles],
    );
  }
  const recorded: string[] = [];
  for (const c of s.charges ?? []) {
    const n = await tx.run(
      `UPDATE upload_leases SET charged = 1, charged_size = $4, charged_names = $5
       WHERE "user" = $1 AND holder = $2 AND file_key = $3`,
      [s.user, s.holder, c.key, c.size, c.names],
    );
    if (n > 0) recorded.push(c.key);
    // Closed and given back: the usage now counts the file as the close left it.
    if (c.closed) {
      await tx.run(
        `DELETE FROM upload_leases
         WHERE "user" = $1 AND holder = $2 AND file_key = $3 AND released = 1`,
        [s.user, s.holder, c.key],
      );
    }
  }
  const held = await tx.get<Figures & { expires_at: number | string }>(
    'SELECT bytes, files, expires_at FROM quota_grants WHERE "user" = $1 AND holder = $2',
    [s.user, s.holder],
  );
  // A grant whose lease ran out may have been counted free by others already: it holds nothing.
  const live = held !== undefined && Number(held.expires_at) > now;
  const others = await tx.get<Figures>(
    `SELECT coalesce(sum(bytes), 0) AS bytes, coalesce(sum(files), 0) AS files
     FROM quota_grants WHERE "user" = $1 AND holder <> $2 AND expires_at > $3`,
    [s.user, s.holder, now],
  );
  const bytes = fit({
    held: live ? Number(held.bytes) : 0,
    delta: s.deltaBytes,
    want: s.wantBytes,
    release: s.release,
    room: limitBytes - usageBytes - Number(others?.bytes ?? 0),
    limit: limitBytes,
  });
  const files = fit({
    held: live ? Number(held.files) : 0,
    delta: s.deltaFiles,
    want: s.wantFiles,
    release: s.release,
    room: limitFiles - usageFiles - Number(others?.files ?? 0),
    limit: limitFiles,
  });
  // Grants of holders gone for good are swept here, by whoever settles next.
  await tx.run('DELETE FROM quota_grants WHERE "user" = $1 AND expires_at <= $2', [s.user, now]);
  if (bytes.grant === 0 && files.grant === 0) {
    await tx.run('DELETE FROM quota_grants WHERE "user" = $1 AND holder = $2', [s.user, s.holder]);
  } else {
    await tx.run(
      `INSERT INTO quota_grants ("user", holder, bytes, files, expires_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT ("user", holder) DO UPDATE SET
         bytes = excluded.bytes, files = excluded.files, expires_at = excluded.expires_at`,
      [s.user, s.holder, bytes.grant, files.grant, now + s.leaseMs],
    );
  }
  return {
    usageBytes,
    usageFiles,
    limitBytes,
    limitFiles,
    grantBytes: bytes.grant,
    grantFiles: files.grant,
    freeBytes: bytes.free,
    freeFiles: files.free,
    recorded,
  };
}
