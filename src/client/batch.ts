/**
 * Batch mode (`-b FILE`, `-b -`, or commands piped in): runs the same
 * commands as the screen, one line at a time, printing plain progress lines.
 * Like `sftp -b` it stops at the first failing command with exit status 1,
 * unless that line starts with "-". Confirmations are answered yes (the
 * script asked for it), except that a refused resume stays an error unless
 * the command says `put -f` / `get -f`.
 */
import * as readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { describeFailure, executeLine, type CommandIo } from './commands';
import { formatBytes, formatRate, percent } from './format';
import type { ClientSession } from './session';
import type { TransferJob } from './transfer-queue';

export interface BatchOptions {
  session: ClientSession;
  input: Readable;
  out: Writable;
  err: Writable;
  /** Least time between two progress lines of one transfer (default 500 ms). */
  progressEveryMs?: number;
  now?: () => number;
}

/** `put big.bin: 45% 9.00 MiB/20.0 MiB 76.3 MiB/s` */
export function progressLine(job: TransferJob): string {
  const p = job.progress;
  if (!p) return `${job.direction} ${job.label}: starting`;
  return (
    `${job.direction} ${job.label}: ${percent(p.transferred, p.total)}% ` +
    `${formatBytes(p.transferred)}/${formatBytes(p.total)} ${formatRate(p.bytesPerSecond)}`
  );
}

/** Prints progress lines for the queue's jobs; returns a function that stops it. */
function printProgress(o: BatchOptions): () => void {
  const every = o.progressEveryMs ?? 500;
  const now = o.now ?? Date.now;
  const last = new Map<number, number>();
  /** Where each job was last said to start: a reconnection starts it again further on. */
  const announced = new Map<number, number>();
  const restarted = new Set<number>();
  const onChange = (job: TransferJob): void => {
    if (job.restarted && !restarted.has(job.id)) {
      restarted.add(job.id);
      o.out.write(`${job.direction} ${job.label}: ${job.restarted}; starting over (-f)\n`);
    }
    const p = job.progress;
    if (job.state !== 'running' || !p) return;
    if (announced.get(job.id) !== p.resumedFrom) {
      announced.set(job.id, p.resumedFrom);
      if (p.resumedFrom > 0 && p.resumedFrom < p.total) {
        o.out.write(
          `${job.direction} ${job.label}: resuming from ${p.resumedFrom} bytes ` +
            `(${formatBytes(p.resumedFrom)}), the start proven by MD5\n`,
        );
      }
    }
    const t = now();
    const done = p.transferred >= p.total;
    if (!done && t - (last.get(job.id) ?? Number.NEGATIVE_INFINITY) < every) return;
    if (done && last.get(job.id) === Number.POSITIVE_INFINITY) return;
    last.set(job.id, done ? Number.POSITIVE_INFINITY : t);
    o.out.write(`${progressLine(job)}\n`);
  };
  o.session.queue.on('change', onChange);
  return () => o.session.queue.off('change', onChange);
}

/** Runs every line of `input`; resolves with the exit status. */
export async function runBatch(o: BatchOptions): Promise<number> {
  const io: CommandIo = {
    confirm: async () => true,
    waitForTransfers: true,
    say: (text) => o.out.write(`${text}\n`),
  };
  const stop = printProgress(o);
  const lines = readline.createInterface({ input: o.input, crlfDelay: Infinity });
  try {
    for await (const raw of lines) {
      const trimmed = raw.trim();
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      // As in sftp -b: a leading "-" lets the script go on when the command fails.
      const tolerant = trimmed.startsWith('-');
      const line = tolerant ? trimmed.slice(1) : trimmed;
      o.out.write(`miniftp> ${line}\n`);
      try {
        const result = await executeLine(o.session, io, line);
        if (result.text) o.out.write(`${result.text}\n`);
        if (result.quit) return 0;
      } catch (err) {
        o.err.write(`${describeFailure(line, err)}\n`);
        if (!tolerant) return 1;
      }
    }
    return 0;
  } finally {
    lines.close();
    stop();
  }
}
