/** Opens the PostgreSQL store named by --store-url and brings its schema up to date. */
import { MiniftpError, describeError } from '../../errors';
import { applyMigrations } from '../engine/migrate';
import type { Db } from '../engine/sql';
import { hostPort, redactUrl } from '../engine/url';
import type { Migration } from '../migrations';
import { PgDb, isUnreachable, type PgOptions } from './db';

export interface PostgresOptions extends PgOptions {
  /** The schema steps (tests give their own). */
  readonly migrations?: readonly Migration[];
}

/**
 * A database that does not answer at start is a one-line error naming the setting and the
 * address, with the reason; the pool is closed again.
 */
export async function openPostgres(options: PostgresOptions): Promise<Db> {
  const db = new PgDb(options);
  const shown = redactUrl(options.url);
  try {
    await db.get('SELECT 1');
  } catch (err) {
    await db.close().catch(() => undefined);
    const cause = err instanceof MiniftpError && err.cause !== undefined ? err.cause : err;
    const why = isUnreachable(cause)
      ? `no database answers at ${hostPort(options.url)} (${reason(cause)})`
      : reason(cause);
    throw MiniftpError.invalid(`cannot use --store-url ${shown}: ${why}`);
  }
  try {
    await applyMigrations(
      db,
      { description: `--store-url ${shown}`, setting: '--store-url' },
      options.migrations,
    );
  } catch (err) {
    await db.close().catch(() => undefined);
    if (err instanceof MiniftpError && err.kind === 'invalid') throw err;
    throw MiniftpError.invalid(
      `cannot use --store-url ${shown}: its schema could not be brought up to date (${reason(err)})`,
    );
  }
  return db;
}

/** The driver's reason, without the URL (which could hold the password). */
function reason(err: unknown): string {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  const text = describeError(err);
  return typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
}
