/**
 * The process's limit of open files (RLIMIT_NOFILE), which the handle budget
 * is sized from. Node.js 20 raises the soft limit to the hard one itself when
 * it starts on Linux; when it has not (another runtime, a limit changed
 * since), util-linux `prlimit` raises it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface OpenFilesLimit {
  readonly soft: number;
  /** Infinity for "unlimited". */
  readonly hard: number;
}

export interface RaisedLimit extends OpenFilesLimit {
  /** The soft limit before this start raised it (equal to `soft` when nothing was raised). */
  readonly before: number;
  /** Why raising failed, when it was tried and failed. */
  readonly problem?: string;
}

/** Without /proc (not Linux), the limit is taken to be the common default. */
const UNKNOWN_LIMIT: OpenFilesLimit = { soft: 1024, hard: 1024 };

/** The "Max open files" line of /proc/<pid>/limits, or undefined when it has none. */
export function parseOpenFilesLimit(limits: string): OpenFilesLimit | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)\s+files\s*$/m.exec(limits);
  if (!m?.[1] || !m[2]) return undefined;
  const value = (text: string): number => (text === 'unlimited' ? Infinity : Number(text));
  return { soft: value(m[1]), hard: value(m[2]) };
}

export function readOpenFilesLimit(): OpenFilesLimit {
  try {
    return parseOpenFilesLimit(readFileSync('/proc/self/limits', 'utf8')) ?? UNKNOWN_LIMIT;
  } catch {
    return UNKNOWN_LIMIT;
  }
}

/** The kernel's ceiling on any process's descriptors, for a hard limit of "unlimited". */
function kernelCeiling(): number {
  try {
    return Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim()) || 1024 * 1024;
  } catch {
    return 1024 * 1024;
  }
}

/** Raises the soft limit to the hard one if it is below it, and says what is in force. */
export function raiseOpenFilesLimit(): RaisedLimit {
  const now = readOpenFilesLimit();
  if (now.soft >= now.hard || process.platform !== 'linux') return { ...now, before: now.soft };
  const target = Number.isFinite(now.hard) ? now.hard : kernelCeiling();
  let problem: string | undefined;
  try {
    const hard = Number.isFinite(now.hard) ? String(now.hard) : 'unlimited';
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${target}:${hard}`], {
      stdio: 'ignore',
      timeout: 5000,
    });
  } catch (err) {
    problem = `prlimit failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  }
  const after = readOpenFilesLimit();
  return { ...after, before: now.soft, ...(problem === undefined ? {} : { problem }) };
}
