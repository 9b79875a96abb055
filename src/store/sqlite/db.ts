/**
 * The Sql of the store over better-sqlite3. SQLite answers synchronously; each call here runs
 * its statement at once and resolves with the result, so a caller sees the same promises as
 * from a database server. Prepared statements are kept by their text.
 *
 * One connection serves the whole process, so a transaction holds it: while the function given
 * to `transaction` awaits between its statements, statements from elsewhere wait until it has
 * committed or rolled back instead of landing inside it.
 */
import BetterSqlite3 from 'better-sqlite3';
import type { Database, Statement } from 'better-sqlite3';
import type { Constraint, Db, Sql, SqlValue } from '../engine/sql';

type Bound = Array<Record<string, SqlValue>>;

/**
 * SQLite reads `$1` as a parameter named "1": the values are bound by those names, so the
 * statement's text is the same as PostgreSQL's.
 */
function bind(params: readonly SqlValue[] = []): Bound {
  if (params.length === 0) return [];
  const named: Record<string, SqlValue> = {};
  params.forEach((value, i) => {
    named[String(i + 1)] = value;
  });
  return [named];
}

function constraintOf(err: unknown): Constraint | undefined {
  if (!(err instanceof BetterSqlite3.SqliteError)) return undefined;
  switch (err.code) {
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
    case 'SQLITE_CONSTRAINT_UNIQUE':
      return 'unique';
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
      return 'foreign-key';
    case 'SQLITE_CONSTRAINT_CHECK':
    case 'SQLITE_CONSTRAINT_DATATYPE':
      return 'check';
    default:
      return undefined;
  }
}

/** Statements on the connection, run at once (no waiting for a transaction). */
class Direct implements Sql {
  readonly dialect = 'sqlite';
  private readonly statements = new Map<string, Statement<Bound>>();

  constructor(private readonly db: Database) {}

  private prepare(text: string): Statement<Bound> {
    let stmt = this.statements.get(text);
    if (!stmt) {
      stmt = this.db.prepare<Bound>(text);
      this.statements.set(text, stmt);
    }
    return stmt;
  }

  allNow<Row>(text: string, params?: readonly SqlValue[]): Row[] {
    return this.prepare(text).all(...bind(params)) as Row[];
  }

  getNow<Row>(text: string, params?: readonly SqlValue[]): Row | undefined {
    return this.prepare(text).get(...bind(params)) as Row | undefined;
  }

  runNow(text: string, params?: readonly SqlValue[]): number {
    return this.prepare(text).run(...bind(params)).changes;
  }

  execNow(script: string): void {
    this.db.exec(script);
  }

  async all<Row>(text: string, params?: readonly SqlValue[]): Promise<Row[]> {
    return this.allNow<Row>(text, params);
  }

  async get<Row>(text: string, params?: readonly SqlValue[]): Promise<Row | undefined> {
    return this.getNow<Row>(text, params);
  }

  async run(text: string, params?: readonly SqlValue[]): Promise<number> {
    return this.runNow(text, params);
  }

  async exec(script: string): Promise<void> {
    this.execNow(script);
  }

  constraintOf(err: unknown): Constraint | undefined {
    return constraintOf(err);
  }
}

export class SqliteDb implements Db {
  readonly dialect = 'sqlite';
  private readonly direct: Direct;
  /** Set while a transaction holds the connection; settles when it has ended. */
  private held: Promise<void> | undefined;

  /** `busyTimeoutMs`: how long a statement waits for another connection's write lock. */
  constructor(
    private readonly db: Database,
    private readonly busyTimeoutMs: number,
  ) {
    this.direct = new Direct(db);
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  }

  // Each caller waits in its own loop: the check that no transaction holds the connection and
  // the statement (or the start of a transaction) then run in the same turn, with nothing between.

  async all<Row>(text: string, params?: readonly SqlValue[]): Promise<Row[]> {
    while (this.held) await this.held;
    return this.direct.allNow<Row>(text, params);
  }

  async get<Row>(text: string, params?: readonly SqlValue[]): Promise<Row | undefined> {
    while (this.held) await this.held;
    return this.direct.getNow<Row>(text, params);
  }

  async run(text: string, params?: readonly SqlValue[]): Promise<number> {
    while (this.held) await this.held;
    return this.direct.runNow(text, params);
  }

  async exec(script: string): Promise<void> {
    while (this.held) await this.held;
    this.direct.execNow(script);
  }

  constraintOf(err: unknown): Constraint | undefined {
    return constraintOf(err);
  }

  /**
   * BEGIN IMMEDIATE takes the database's write lock at once, so what `fn` reads stays true until
   * it commits. While another connection (another process) holds the lock, the attempt is
   * repeated in later turns of the event loop for up to busy_timeout, rather than waiting inside
   * SQLite, which would stop this whole process meanwhile.
   */
  private async begin(): Promise<void> {
    const deadline = Date.now() + this.busyTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      this.db.pragma('busy_timeout = 0');
      try {
        this.direct.execNow('BEGIN IMMEDIATE');
        return;
      } catch (err) {
        const busy = err instanceof BetterSqlite3.SqliteError && err.code === 'SQLITE_BUSY';
        if (!busy || Date.now() >= deadline) throw err;
      } finally {
        this.db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(attempt, 20)));
    }
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    while (this.held) await this.held;
    let release = (): void => undefined;
    this.held = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      await this.begin();
      let result: T;
      try {
        result = await fn(this.direct);
      } catch (err) {
        if (this.db.inTransaction) this.direct.execNow('ROLLBACK');
        throw err;
      }
      this.direct.execNow('COMMIT');
      return result;
    } finally {
      this.held = undefined;
      release();
    }
  }

  async close(): Promise<void> {
    while (this.held) await this.held;
    if (this.db.open) this.db.close();
  }
}
