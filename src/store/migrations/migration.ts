/** The shape of one step of the schema (one file per step in this folder, listed in index.ts). */
export interface Migration {
  /**
   * "NNNN_what": the number orders the steps and must grow by one; the id is recorded in the
   * schema_migrations table of every database the step has run on.
   */
  readonly id: string;
  /** The step's statements for SQLite (the data directory's database). */
  readonly sqlite: string;
  /** The same step for PostgreSQL (--store-url). */
  readonly postgres: string;
}
