/** A logger that only prints: JSON lines on stdout, for a process that must not create log files. */
import type { LogFields, Logger } from '../log/types';

type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Readonly<Record<Level, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export function printLogger(
  level: Level,
  out: { write(text: string): unknown } = process.stdout,
  fields: LogFields = {},
): Logger {
  const emit = (at: Level, event: string, extra?: LogFields): void => {
    if (RANK[at] < RANK[level]) return;
    out.write(
      `${JSON.stringify({ time: new Date().toISOString(), level: at, event, ...fields, ...extra })}\n`,
    );
  };
  return {
    debug: (event, extra) => emit('debug', event, extra),
    info: (event, extra) => emit('info', event, extra),
    warn: (event, extra) => emit('warn', event, extra),
    error: (event, extra) => emit('error', event, extra),
    child: (more) => printLogger(level, out, { ...fields, ...more }),
    close: () => Promise.resolve(),
  };
}
