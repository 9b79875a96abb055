/**
 * The Sql of the store over PostgreSQL (node-postgres): a pool of connections shared by every
 * request of this process. Statements outside a transaction take any free connection; a
 * transaction keeps one until it ends.
 *
 * A database that goes away is not fatal: statements fail with MiniftpError 'failure' ("the
 * user database is out of reach") that the request that needed it reports, broken connections
 * leave the pool, and the next statements open new ones once the database is back.
 */
import pg from 'pg';
import { MiniftpError } from '../../errors';
import type { Constraint, Db, Sql, SqlValue } from '../engine/sql';

/** PostgreSQL's SQLSTATE codes the store acts on. */
const SERIALIZATION_FAILURE = '40001';
const DEADLOCK = '40P01';
const QUERY_CANCELED = '57014';

/** Runs of a transaction that conflicted with another, before the conflict is reported. */
const MAX_TRIES = 30;

/**
 * BIGINT (OID 20) as a JavaScript number: sizes and counts stay far below 2^53. node-postgres
 * returns them as text by default; this pool alone reads them as numbers.
 */
const INT8_OID = 20;
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? (text: string) => Number(text)
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

function sqlState(err: unknown): string | undefined {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * True for the errors of a database that cannot be reached or went away: no answer at the
 * address, a connection that broke, a server shutting down, too many connections.
 */
export function isUnreachable(err: unknown): boolean {
  if (!(err instanceof Error) || err instanceof MiniftpError) return false;
  if (err instanceof pg.DatabaseError) {
    const code = err.code ?? '';
    return code.startsWith('08') || code.startsWith('57P') || code === '53300';
  }
  // Errors without a SQLSTATE come from the connection itself (ECONNREFUSED, a timeout, a
  // connection terminated unexpectedly).
  return true;
}

/** The error a request sees: a short sentence for an unreachable or slow database. */
function forCaller(err: unknown): unknown {
  if (sqlState(err) === QUERY_CANCELED) {
    return MiniftpError.failure('the user database did not answer in time', err);
  }
  if (isUnreachable(err)) return MiniftpError.failure('the user database is out of reach', err);
  return err;
}

function constraintOf(err: unknown): Constraint | undefined {
  switch (sqlState(err)) {
    case '23505':
      return 'unique';
    case '23503':
      return 'foreign-key';
    case '23514': // check_violation
    case '22003': // numeric_value_out_of_range
      return 'check';
    default:
      return undefined;
  }
}

/** Statements on one pooled connection, or on the pool (any free connection). */
class PgSql implements Sql {
  readonly dialect = 'postgres';

  constructor(private readonly on: pg.Pool | pg.PoolClient) {}

  private async query(text: string, params?: readonly SqlValue[]): Promise<pg.QueryResult> {
    try {
      return await this.on.query(text, params ? [...params] : undefined);
    } catch (err) {
      throw forCaller(err);
    }
  }

  async all<Row>(text: string, params?: readonly SqlValue[]): Promise<Row[]> {
    return (await this.query(text, params)).rows as Row[];
  }

  async get<Row>(text: string, params?: readonly SqlValue[]): Promise<Row | undefined> {
    return (await this.query(text, params)).rows[0] as Row | undefined;
  }

  async run(text: string, params?: readonly SqlValue[]): Promise<number> {
    return (await this.query(text, params)).rowCount ?? 0;
  }

  async exec(script: string): Promise<void> {
    // Without parameters node-postgres uses the simple protocol, which takes several statements.
    await this.query(script);
  }

  constraintOf(err: unknown): Constraint | undefined {
    return constraintOf(err);
  }
}

export interface PgOptions {
  readonly url: string;
  /** Connections this process keeps at most. */
  readonly poolSize: number;
  /** Milliseconds a statement, or getting a connection, may take. */
  readonly timeoutMs: number;
  /** An idle connection broke (the database restarted): told, not thrown. */
  readonly onIdleError?: (err: Error) => void;
}

export class PgDb implements Db {
  readonly dialect = 'postgres';
  private readonly pool: pg.Pool;
  private readonly direct: PgSql;

  constructor(options: PgOptions) {
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      connectionTimeoutMillis: options.timeoutMs,
      // The server cancels a statement that runs longer; the client gives up a little later
      // on a connection that does not answer at all.
      statement_timeout: options.timeoutMs,
      query_timeout: options.timeoutMs + 1000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'miniftp',
      types: typeParsers,
    });
    // Without a listener, an idle connection that breaks would end the process.
    this.pool.on('error', (err) => options.onIdleError?.(err));
    this.direct = new PgSql(this.pool);
  }

  all<Row>(text: string, params?: readonly SqlValue[]): Promise<Row[]> {
    return this.direct.all<Row>(text, params);
  }

  get<Row>(text: string, params?: readonly SqlValue[]): Promise<Row | undefined> {
    return this.direct.get<Row>(text, params);
  }

  run(text: string, params?: readonly SqlValue[]): Promise<number> {
    return this.direct.run(text, params);
  }

  exec(script: string): Promise<void> {
    return this.direct.exec(script);
  }

  constraintOf(err: unknown): Constraint | undefined {
    return constraintOf(err);
  }

  /**
   * SERIALIZABLE: PostgreSQL fails one of two transactions that would not have given the same
   * result one after the other (SQLSTATE 40001), and `fn` runs again on a fresh snapshot.
   */
  async transaction<T>(
    fn: (tx: Sql) => Promise<T>,
    options: { readCommitted?: boolean } = {},
  ): Promise<T> {
    const begin = options.readCommitted
      ? 'BEGIN ISOLATION LEVEL READ COMMITTED'
      : 'BEGIN ISOLATION LEVEL SERIALIZABLE';
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(begin, fn);
      } catch (err) {
        const state = sqlState(err);
        const conflict = state === SERIALIZATION_FAILURE || state === DEADLOCK;
        if (!conflict || attempt >= MAX_TRIES) throw err;
        // A short random pause, longer with each try, so that the two do not meet again.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
      }
    }
  }

  private async once<T>(begin: string, fn: (tx: Sql) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw forCaller(err);
    }
    const tx = new PgSql(client);
    let broken: Error | undefined;
    // A connection lost mid-transaction is also emitted as 'error' on the client: the statement
    // in progress fails with it already, and without a listener it would end the process.
    const lost = (): void => undefined;
    client.on('error', lost);
    try {
      await tx.exec(begin);
      const result = await fn(tx);
      await tx.exec('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        // The connection itself is gone: the pool must not hand it out again.
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      }
      throw err;
    } finally {
      client.off('error', lost);
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
