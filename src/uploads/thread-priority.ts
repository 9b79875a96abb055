/**
 * The scheduling priority of one thread of this process (the upload ledger's
 * hashing thread): "idle" while nobody waits for its work, "normal" while
 * someone does.
 *
 * Idle is Linux's SCHED_IDLE policy, set with util-linux's `chrt` (Node has no
 * call for it). A SCHED_IDLE thread runs only on CPU time no other thread
 * wants, and yields the moment one wakes. Nice 19, the fallback when `chrt`
 * is missing or refused, still takes a share of the CPU the transfers need,
 * and uploads are slower with it (figures in docs/performance.md).
 *
 * A thread put low must be raised again when someone waits, and raising is a
 * privilege: CAP_SYS_NICE, or an RLIMIT_NICE of 20 or more. Without it the
 * thread is left at normal priority from the start.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';

export type Priority = 'idle' | 'normal';

/** Linux's capability number for CAP_SYS_NICE. */
const CAP_SYS_NICE = 23n;

/** Nice value of the fallback idle priority. */
const IDLE_NICE = 19;

/** A chrt that has not answered in this long is taken as failed. */
const CHRT_TIMEOUT_MS = 5000;

/**
 * Whether this process may raise a thread back to normal priority once it is
 * lowered: with CAP_SYS_NICE (root usually has it; a container's root
 * usually does not), or when RLIMIT_NICE allows nice 0.
 */
export function mayRestorePriority(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const capEff = /^CapEff:\s*([0-9a-f]+)/m.exec(status)?.[1];
    if (capEff !== undefined && (BigInt(`0x${capEff}`) >> CAP_SYS_NICE) & 1n) return true;
    const line = fs
      .readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max nice priority'));
    const soft = line?.slice('Max nice priority'.length).trim().split(/\s+/)[0];
    return soft === 'unlimited' || Number(soft) >= 20;
  } catch {
    return false;
  }
}

export interface ThreadPriorityOptions {
  /** The chrt command (a test passes one that does not exist, to see the fallback). */
  chrt?: string;
  /** Whether lowering is allowed at all; mayRestorePriority() unless given. */
  mayLower?: boolean;
}

/**
 * Moves a thread between idle and normal priority. Changes are applied one
 * at a time, in the background (chrt is a separate process); only the latest
 * wish counts, so a burst of changes ends in the last state asked for.
 */
export class ThreadPriority {
  private wanted: Priority = 'normal';
  private applied: Priority = 'normal';
  private running: Promise<void> | undefined;
  /** Until chrt fails once (a thread is lowered only on Linux: see mayRestorePriority). */
  private useChrt = true;
  private readonly chrt: string;
  private readonly mayLower: boolean;

  constructor(
    private readonly tid: number,
    options: ThreadPriorityOptions = {},
  ) {
    this.chrt = options.chrt ?? 'chrt';
    this.mayLower = options.mayLower ?? mayRestorePriority();
  }

  set(priority: Priority): void {
    this.wanted = this.mayLower ? priority : 'normal';
    this.kick();
  }

  private kick(): void {
    if (this.running || this.applied === this.wanted) return;
    // Checked again once the round ends: a wish made between the round's last
    // check and this callback would otherwise wait for the next set().
    this.running = this.pump().finally(() => {
      this.running = undefined;
      this.kick();
    });
  }

  /** Resolves once the thread is at the priority last asked for. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private async pump(): Promise<void> {
    while (this.applied !== this.wanted) {
      const target = this.wanted;
      await this.apply(target);
      this.applied = target;
    }
  }

  private async apply(target: Priority): Promise<void> {
    if (this.useChrt) {
      const policy = target === 'idle' ? '--idle' : '--other';
      if (await this.runChrt([policy, '--pid', '0', String(this.tid)])) return;
      // No chrt, or it was refused: nice from now on. A thread chrt already
      // made SCHED_IDLE stays so, which only makes a waiter wait longer.
      this.useChrt = false;
    }
    try {
      os.setPriority(this.tid, target === 'idle' ? IDLE_NICE : 0);
    } catch {
      // mayRestorePriority() said raising is allowed; should a security
      // policy refuse it anyway, the thread stays low: slower for a waiter,
      // still correct.
    }
  }

  private runChrt(args: string[]): Promise<boolean> {
    return new Promise((resolve) => {
      execFile(this.chrt, args, { timeout: CHRT_TIMEOUT_MS }, (err) => resolve(err === null));
    });
  }
}
