/**
 * MiniFTP's own client as a user runs it: `bin/miniftp.js` in a child process,
 * its output collected, commands fed on standard input in batch mode.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';

export const CLIENT_BIN = path.resolve(__dirname, '../../../bin/miniftp.js');

export interface ClientOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface StartedClient {
  child: ChildProcessWithoutNullStreams;
  /** Standard output so far. */
  out(): string;
  done: Promise<ClientOutcome>;
}

export interface ClientOptions {
  cwd: string;
  /** Added to PATH and MINIFTP_PASSWORD=123 (set HOME here). */
  env?: NodeJS.ProcessEnv;
  /** Lines written to standard input, which is then closed; none leaves it open. */
  input?: string[];
}

/** Starts `miniftp ARGS`. */
export function startClient(args: string[], o: ClientOptions): StartedClient {
  const child = spawn(process.execPath, [CLIENT_BIN, ...args], {
    cwd: o.cwd,
    env: { PATH: process.env.PATH, MINIFTP_PASSWORD: '123', ...o.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<ClientOutcome>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  if (o.input) child.stdin.end(`${o.input.join('\n')}\n`);
  return { child, out: () => stdout, done };
}

/** Runs `miniftp -b - ARGS` with `commands` as its script; resolves when it exits. */
export function runBatch(
  args: string[],
  commands: string[],
  o: Omit<ClientOptions, 'input'>,
): Promise<ClientOutcome> {
  return startClient(['-b', '-', ...args], { ...o, input: commands }).done;
}
