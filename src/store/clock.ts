/** The database's own clock, so that leases mean the same to every node whatever their clocks. */
import type { Sql } from './engine/sql';

/** Milliseconds since the epoch, as the database sees it now. */
export async function dbNow(sql: Sql): Promise<number> {
  const row = await sql.get<{ now: number | string }>(
    sql.dialect === 'postgres'
      ? 'SELECT CAST(floor(extract(epoch FROM clock_timestamp()) * 1000) AS BIGINT) AS now'
      : "SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) AS now",
  );
  return Number(row?.now ?? Date.now());
}
