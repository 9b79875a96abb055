/**
 * The `miniftp-server` command as a child process, for tests that must kill
 * the server outright (SIGKILL) or watch it as a whole process.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { bypassesModes, effectiveCapabilities } from '../../src/main/privileges';
import { testServerArgs } from './server';

const REPO = path.resolve(__dirname, '..', '..', '..');
const SERVER_BIN = path.join(REPO, 'bin', 'miniftp-server.js');

export interface ServerProcess {
  child: ChildProcessWithoutNullStreams;
  port: number;
  /**
   * The server's own process: `child`, or the one `child` runs it in when it
   * starts as root (through setpriv, see src/main/launch.ts).
   */
  pid: number;
  /** Resolves when the process has exited (code, or the signal that ended it), the server's own too. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/**
 * Starts the server on 127.0.0.1, port 0, with `dataDir` and the shared test
 * host keys; resolves once it prints the port it listens on. `nofile` starts
 * it under util-linux `prlimit --nofile=SOFT:HARD`.
 */
export async function startServerProcess(
  dataDir: string,
  flags: string[] = [],
  options: { nofile?: { soft: number; hard: number } } = {},
): Promise<ServerProcess> {
  const command = [process.execPath, SERVER_BIN, ...testServerArgs(dataDir, flags)];
  const { nofile } = options;
  // prlimit execs the command: the child's pid is the server's.
  const child = nofile
    ? spawn('prlimit', [`--nofile=${nofile.soft}:${nofile.hard}`, ...command], { cwd: REPO })
    : spawn(command[0] as string, command.slice(1), { cwd: REPO });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stderr: string;
  }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /^listening on 127\.0\.0\.1:(\d+)$/m.exec(stdout);
      if (m) resolve(Number(m[1]));
    });
    void closed.then(({ code, signal }) =>
      reject(new Error(`server exited (${code ?? signal}) before listening: ${stderr}`)),
    );
  });
  const pid = serverPid(child.pid as number);
  // Killed outright, the outer process takes the server with it (the kernel's
  // parent-death signal): wait until that one is gone too.
  const exited = closed.then(async (end) => {
    if (pid !== child.pid) await gone(pid);
    return end;
  });
  return { child, port, pid, exited };
}

/** Ends each of `nodes` still running with `signal` and waits until every one has exited. */
export async function stopServerProcesses(
  nodes: readonly ServerProcess[],
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<void> {
  for (const n of nodes) {
    if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill(signal);
    await n.exited;
  }
}

/**
 * `pid` itself, or its child when it re-executed itself through setpriv: the
 * outer process is then the one that keeps CAP_DAC_OVERRIDE (see src/main/launch.ts).
 */
function serverPid(pid: number): number {
  try {
    if (!bypassesModes(effectiveCapabilities(readFileSync(`/proc/${pid}/status`, 'utf8'))))
      return pid;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    const first = Number(children.split(/\s+/)[0]);
    return children !== '' && Number.isInteger(first) ? first : pid;
  } catch {
    return pid;
  }
}

/** Resolves once `pid` has exited (gone, or a zombie nobody reaps yet); 10 s at most. */
async function gone(pid: number): Promise<void> {
  const deadline = Date.now() + 10000;
  for (;;) {
    let state: string | undefined;
    try {
      state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    } catch {
      return;
    }
    if (state === undefined || state === 'Z' || state === 'X') return;
    if (Date.now() > deadline) throw new Error(`server process ${pid} did not exit`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
