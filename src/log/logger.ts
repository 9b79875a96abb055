import fs from 'node:fs';
import path from 'node:path';
import type { LogFields, Logger } from './types';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Anything with a `write(text)`, such as process.stdout. */
export interface TextSink {
  write(text: string): unknown;
}

export interface CreateLoggerOptions {
  /** Directory of the daily files, e.g. <dataDir>/log; created (0700) on the first line. */
  dir: string;
  /** Lines below this level are dropped. */
  level: LogLevel;
  /** Also print a readable line per call. */
  stdout: boolean;
  now?: () => Date;
  /** Where readable lines go; process.stdout unless a test captures them. */
  stdoutStream?: TextSink;
  /** Where the one report of a failing log file goes; process.stderr by default. */
  stderrStream?: TextSink;
}

const LEVEL_RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };
const RESERVED_KEYS = new Set(['time', 'level', 'event']);
// Callers never log secrets; this catches the day one slips through (e.g. a whole request object).
const SECRET_KEY = /password|secret|passphrase|token/i;
// After a write error the file is reopened no sooner than this, so a full disk is not retried per line.
const REOPEN_DELAY_MS = 60_000;

/** A logger writing JSON lines to <dir>/YYYY-MM-DD.log (local date), one file a day. */
export function createLogger(options: CreateLoggerOptions): Logger {
  const sink = new LogSink({
    dir: options.dir,
    threshold: LEVEL_RANK[options.level],
    now: options.now ?? (() => new Date()),
    stdout: options.stdout ? (options.stdoutStream ?? process.stdout) : undefined,
    stderr: options.stderrStream ?? process.stderr,
  });
  return new FieldLogger(sink, {});
}

type CleanFields = Readonly<Record<string, string | number | boolean | null>>;

class FieldLogger implements Logger {
  constructor(
    private readonly sink: LogSink,
    private readonly fields: CleanFields,
  ) {}

  debug(event: string, fields?: LogFields): void {
    if (this.sink.enabled('debug')) this.sink.emit('debug', event, this.merge(fields));
  }

  info(event: string, fields?: LogFields): void {
    if (this.sink.enabled('info')) this.sink.emit('info', event, this.merge(fields));
  }

  warn(event: string, fields?: LogFields): void {
    if (this.sink.enabled('warn')) this.sink.emit('warn', event, this.merge(fields));
  }

  error(event: string, fields?: LogFields): void {
    if (this.sink.enabled('error')) this.sink.emit('error', event, this.merge(fields));
  }

  child(fields: LogFields): Logger {
    return new FieldLogger(this.sink, this.merge(fields));
  }

  close(): Promise<void> {
    return this.sink.close();
  }

  private merge(fields: LogFields | undefined): CleanFields {
    if (!fields) return this.fields;
    const merged: Record<string, string | number | boolean | null> = { ...this.fields };
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      merged[key] = SECRET_KEY.test(key) ? '[redacted]' : value;
    }
    return merged;
  }
}

interface OpenFile {
  readonly path: string;
  readonly stream: fs.WriteStream;
  /** Local midnight at the start and end of the file's day, in ms. */
  readonly start: number;
  readonly end: number;
}

class LogSink {
  private current: OpenFile | undefined;
  private readonly closing = new Set<Promise<void>>();
  private closed = false;
  private reported = false;
  private reopenAt = 0;

  constructor(
    private readonly options: {
      dir: string;
      threshold: number;
      now: () => Date;
      stdout: TextSink | undefined;
      stderr: TextSink;
    },
  ) {}

  /** Checked before fields are merged, so a dropped debug line in a hot path costs no allocation. */
  enabled(level: LogLevel): boolean {
    return LEVEL_RANK[level] >= this.options.threshold;
  }

  emit(level: LogLevel, event: string, fields: CleanFields): void {
    try {
      const time = this.options.now();
      const record: Record<string, unknown> = { time: time.toISOString(), level, event };
      for (const [key, value] of Object.entries(fields)) {
        // A field must not pass itself off as the line's own time, level or event.
        if (!RESERVED_KEYS.has(key)) record[key] = value;
      }
      this.writeFile(time, `${JSON.stringify(record)}\n`);
      this.options.stdout?.write(humanLine(time, level, event, fields));
    } catch (err) {
      this.report(err, this.current?.path ?? this.options.dir);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.current) this.retire(this.current);
    this.current = undefined;
    await Promise.all([...this.closing]);
  }

  private writeFile(time: Date, line: string): void {
    if (this.closed) return;
    const ms = time.getTime();
    let file = this.current;
    if (!file || ms < file.start || ms >= file.end) {
      if (file) this.retire(file);
      this.current = undefined;
      if (ms < this.reopenAt) return;
      try {
        file = this.open(time);
      } catch (err) {
        this.report(err, this.options.dir);
        this.reopenAt = ms + REOPEN_DELAY_MS;
        return;
      }
      this.current = file;
    }
    file.stream.write(line);
  }

  private open(time: Date): OpenFile {
    const day = new Date(time.getFullYear(), time.getMonth(), time.getDate());
    const next = new Date(time.getFullYear(), time.getMonth(), time.getDate() + 1);
    const file = path.join(this.options.dir, `${localDate(day)}.log`);
    // Synchronous, but only once a day; the lines themselves go through the stream.
    fs.mkdirSync(this.options.dir, { recursive: true, mode: 0o700 });
    const stream = fs.createWriteStream(file, { flags: 'a', mode: 0o600 });
    const opened: OpenFile = { path: file, stream, start: day.getTime(), end: next.getTime() };
    stream.on('error', (err) => {
      this.report(err, file);
      if (this.current === opened) {
        this.current = undefined;
        this.reopenAt = this.options.now().getTime() + REOPEN_DELAY_MS;
      }
      stream.destroy();
    });
    return opened;
  }

  private retire(file: OpenFile): void {
    const { stream } = file;
    if (stream.closed) return;
    const done = new Promise<void>((resolve) => stream.once('close', () => resolve()));
    this.closing.add(done);
    void done.then(() => this.closing.delete(done));
    stream.end();
  }

  private report(err: unknown, where: string): void {
    if (this.reported) return;
    this.reported = true;
    const reason = err instanceof Error ? err.message : String(err);
    try {
      this.options.stderr.write(
        `miniftp: cannot write log ${where}: ${reason} (lines may be lost; later errors are not shown)\n`,
      );
    } catch {
      // Nowhere left to say it.
    }
  }
}

/** "2026-11-25 19:45:55 INFO  login.ok user=zhangsan ip=127.0.0.1" in local time. */
function humanLine(time: Date, level: LogLevel, event: string, fields: CleanFields): string {
  const clock = `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}`;
  let line = `${localDate(time)} ${clock} ${level.toUpperCase().padEnd(5)} ${event}`;
  for (const [key, value] of Object.entries(fields)) {
    line += ` ${key}=${humanValue(value)}`;
  }
  return `${line}\n`;
}

function humanValue(value: string | number | boolean | null): string {
  if (typeof value !== 'string') return String(value);
  // Quoting also escapes control characters, so a file name cannot forge lines or colour the terminal.
  return value === '' || /[\s"=\\\p{Cc}]/u.test(value) ? JSON.stringify(value) : value;
}

function localDate(time: Date): string {
  return `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${pad(time.getDate())}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
