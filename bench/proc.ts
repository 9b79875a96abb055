/**
 * Child processes of the bench (so Ctrl-C can end exactly those), and memory
 * figures read from /proc for a set of process ids.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, in milliseconds. */
  ms: number;
  /** Milliseconds from spawn until stdout first matched `mark`, if given and seen. */
  markMs?: number;
}

/** Every process the bench spawns goes through here; `killAll` ends them by id. */
export class ChildRegistry {
  private readonly live = new Set<ChildProcess>();

  spawn(command: string, args: string[], options: SpawnOptions): ChildProcess {
    const child = spawn(command, args, options);
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
    child.once('error', () => this.live.delete(child));
    return child;
  }

  /** Runs a command to completion, feeding `input` on stdin. */
  run(
    command: string,
    args: string[],
    options: {
      env?: NodeJS.ProcessEnv;
      cwd?: string;
      input?: string;
      timeoutMs?: number;
      mark?: RegExp;
    } = {},
  ): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      const started = process.hrtime.bigint();
      const child = this.spawn(command, args, {
        env: options.env ?? process.env,
        cwd: options.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let markMs: number | undefined;
      let seen = '';
      child.stdout?.on('data', (d: Buffer) => {
        out.push(d);
        if (!options.mark || markMs !== undefined) return;
        seen += d.toString();
        if (options.mark.test(seen)) markMs = Number(process.hrtime.bigint() - started) / 1e6;
      });
      child.stderr?.on('data', (d: Buffer) => err.push(d));
      // A client stuck on a server that stopped answering must not hang the bench.
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({
          code,
          signal,
          stdout: Buffer.concat(out).toString(),
          stderr: Buffer.concat(err).toString(),
          ms: Number(process.hrtime.bigint() - started) / 1e6,
          markMs,
        });
      });
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(options.input ?? '');
    });
  }

  /** Sends `signal` to every child still running (by pid). */
  killAll(signal: NodeJS.Signals): void {
    for (const child of this.live) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    }
  }

  get count(): number {
    return this.live.size;
  }
}

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match?.[1] ? Number(match[1]) * 1024 : 0;
  } catch {
    // The process ended between listing and reading.
    return 0;
  }
}

export function rssBytes(pid: number): number {
  return statusField(pid, 'VmRSS');
}

export function hwmBytes(pid: number): number {
  return statusField(pid, 'VmHWM');
}

/**
 * Resets a process's VmHWM to its current RSS (Linux ≥ 4.0, "5" in clear_refs),
 * so the next read of VmHWM is the peak since now. False when not permitted.
 */
export function resetHwm(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ, 100 on every Linux build in use). */
const TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system) a process has used so far, in clock ticks; 0 once
 * it is gone. With `reaped`, the children it has waited for count too (their
 * own reaped children included), which is how the work of processes that
 * already ended is seen: sshd's sessions, or the sftp and ssh clients the
 * bench itself waited for.
 */
export function cpuTicks(pid: number | 'self', reaped = false): number {
  const f = statFields(pid);
  if (!f) return 0;
  const own = (f[11] ?? 0) + (f[12] ?? 0);
  return reaped ? own + (f[13] ?? 0) + (f[14] ?? 0) : own;
}

/**
 * The numeric fields of /proc/PID/stat from the state on (index 0 is field
 * 3), or undefined once the process is gone. The command name before them is
 * in parentheses and may hold spaces and parentheses itself, so the fields
 * resume after the last ")".
 */
function statFields(pid: number | 'self' | string): number[] | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
}

export const ticksToSeconds = (ticks: number): number => ticks / TICKS_PER_SECOND;

/**
 * Waits until `pid` has been idle (at most one clock tick of CPU) for 200 ms,
 * or `limitMs` has passed; resolves with the milliseconds waited. MiniFTP
 * finishes the digests of finished uploads in the background: the next run
 * (either server's) must not share the CPU with that.
 */
export async function waitIdle(pid: number, limitMs = 60_000): Promise<number> {
  const start = Date.now();
  let last = cpuTicks(pid);
  let quietSince = Date.now();
  while (Date.now() - start < limitMs) {
    await new Promise((r) => setTimeout(r, 50));
    const now = cpuTicks(pid);
    if (now - last > 1) quietSince = Date.now();
    last = now;
    if (Date.now() - quietSince >= 200) break;
  }
  return Math.max(0, quietSince - start);
}

/** Every process below `root` (children, grandchildren…), not `root` itself. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = statFields(name)?.[1];
    if (ppid === undefined) continue;
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const found: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    found.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

/**
 * Samples the summed VmRSS of `pids()` every `intervalMs` and keeps the peak.
 * The list is re-read at each sample, so processes that come and go (sshd's
 * per-connection children) are counted while they live.
 */
export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  private peakBytes = 0;
  private samples = 0;

  constructor(
    private readonly pids: () => number[],
    private readonly intervalMs = 50,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  /** Stops sampling; returns the peak seen (bytes). */
  stop(): { peakBytes: number; samples: number } {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    return { peakBytes: this.peakBytes, samples: this.samples };
  }

  private sample(): void {
    let total = 0;
    for (const pid of this.pids()) total += rssBytes(pid);
    this.samples++;
    if (total > this.peakBytes) this.peakBytes = total;
  }
}
