/**
 * The `miniftp-server` command as a child process, for tests that must kill
 * the server outright (SIGKILL) or watch it as a whole process.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';
import { testServerArgs } from './server';

const REPO = path.resolve(__dirname, '..', '..', '..');
const SERVER_BIN = path.join(REPO, 'bin', 'miniftp-server.js');

export interface ServerProcess {
  child: ChildProcessWithoutNullStreams;
  port: number;
  /** Resolves when the process has exited (code, or the signal that ended it). */
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
  const exited = new Promise<{
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
    void exited.then(({ code, signal }) =>
      reject(new Error(`server exited (${code ?? signal}) before listening: ${stderr}`)),
    );
  });
  return { child, port, exited };
}
