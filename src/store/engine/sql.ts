/**
 * The one way the areas of the store (users.ts, keys.ts, usage.ts, uploads.ts, and any table
 * added later) talk to a database, whichever it is. Statements are written once, in the SQL
 * that SQLite and PostgreSQL share, with parameters numbered `$1`, `$2`… in both (SQLite reads
 * `$1` as a parameter named "1"); where the two differ, `dialect` tells which one runs.
 *
 * Shared-SQL habits: quote the column "user" (a reserved word in PostgreSQL); write
 * `CAST($1 AS TEXT)` where PostgreSQL cannot infer a parameter's type (length($1)); booleans
 * are 0 / 1 integers; times are ISO-8601 text; `INSERT … ON CONFLICT (…) DO UPDATE SET x =
 * excluded.x` works in both.
 */
import { MiniftpError } from '../../errors';

export type SqlValue = string | number | null;

/** The constraint a failed statement broke, as far as the areas need to tell them apart. */
export type Constraint = 'unique' | 'foreign-key' | 'check';

export interface Sql {
  readonly dialect: 'sqlite' | 'postgres';
  /** Every row the statement returns (the row type is the caller's word for it). */
  all<Row>(text: string, params?: readonly SqlValue[]): Promise<Row[]>;
  /** The first row, or undefined. */
  get<Row>(text: string, params?: readonly SqlValue[]): Promise<Row | undefined>;
  /** Runs a statement; resolves with the number of rows it changed. */
  run(text: string, params?: readonly SqlValue[]): Promise<number>;
  /** Several statements without parameters (a migration's script). */
  exec(script: string): Promise<void>;
  /** The constraint `err` reports having been broken, or undefined for any other error. */
  constraintOf(err: unknown): Constraint | undefined;
}

/** What a driver gives the store: statements, transactions, and the end. */
export interface Db extends Sql {
  /**
   * See Store.transaction. `readCommitted`: PostgreSQL runs it READ COMMITTED instead of
   * SERIALIZABLE (each statement sees what committed before it; the migrations need that after
   * waiting for their lock). SQLite's transactions are serial whatever is asked.
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>, options?: { readCommitted?: boolean }): Promise<T>;
  close(): Promise<void>;
}

export function noSuchUser(name: string): MiniftpError {
  return MiniftpError.notFound(`no such user: ${name}`);
}

function unexpectedExists(): MiniftpError {
  return MiniftpError.failure('unexpected duplicate record');
}

/**
 * Turns a broken constraint into the error callers are promised: `onExists` for a duplicate,
 * `onForeignKey` for a missing parent (the databases do not name it in a way worth showing).
 * Anything else is returned as it is.
 */
export function translate(
  sql: Sql,
  err: unknown,
  on: { exists?: () => MiniftpError; foreignKey?: () => MiniftpError },
): unknown {
  switch (sql.constraintOf(err)) {
    case 'unique':
      return (on.exists ?? unexpectedExists)();
    case 'foreign-key':
      return on.foreignKey ? on.foreignKey() : err;
    case 'check':
      return MiniftpError.invalid('a count or size must be a whole number of at least 0');
    default:
      return err;
  }
}

/**
 * A count or size as the schema takes it. SQLite's STRICT tables refuse a fraction and
 * PostgreSQL would round it, so both are refused here first, the same way.
 */
export function count(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw MiniftpError.invalid('a count or size must be a whole number of at least 0');
  }
  return value;
}
