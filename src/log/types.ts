/** Fields of one log line; values must be JSON-serialisable and never contain secrets. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/**
 * One logger per process, passed in where needed. Each call writes one JSON line
 * to <data>/log/YYYY-MM-DD.log (local date) and, when enabled, a readable line on stdout.
 */
export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (e.g. user, session id). */
  child(fields: LogFields): Logger;
  /** Flushes and closes the current file. */
  close(): Promise<void>;
}
