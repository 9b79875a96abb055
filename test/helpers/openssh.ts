/**
 * Runs the stock OpenSSH `sftp` and `ssh` clients against a test server, in
 * batch mode, with the password supplied through SSH_ASKPASS or with a key.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { commonOptions, type Credentials } from './openssh-options';
import { generateKeyPair } from '../../src/auth/keygen';

export interface ClientRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export type { Credentials } from './openssh-options';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'miniftp-test-ssh-'));
let askpassCount = 0;

function askpass(password: string): string {
  const file = path.join(scratch, `askpass-${askpassCount++}.sh`);
  // printf with %s keeps any character of the password literal.
  writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' '${password.replace(/'/g, `'\\''`)}'\n`, {
    mode: 0o700,
  });
  return file;
}

/** An ed25519 key pair on disk: returns the private key path and the authorized_keys line. */
export function makeClientKey(): { identity: string; publicLine: string } {
  const pair = generateKeyPair('ed25519');
  const identity = path.join(scratch, `id-${askpassCount++}`);
  writeFileSync(identity, pair.private);
  chmodSync(identity, 0o600);
  return { identity, publicLine: pair.public };
}

function env(creds: Credentials): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, HOME: scratch };
  if (creds.password !== undefined) {
    e.SSH_ASKPASS = askpass(creds.password);
    e.SSH_ASKPASS_REQUIRE = 'force';
    e.DISPLAY = e.DISPLAY ?? ':0';
  }
  return e;
}

function run(
  cmd: string,
  args: string[],
  e: NodeJS.ProcessEnv,
  input?: string,
  cwd?: string,
): Promise<ClientRun> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: e, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** `sftp -b -` with `commands` (one per line); stops at the first failing command, as sftp does. */
export function sftpBatch(
  port: number,
  creds: Credentials,
  commands: string[],
  options: { cwd?: string; extraArgs?: string[] } = {},
): Promise<ClientRun> {
  const args = [
    ...commonOptions(port, creds, '-P'),
    ...(options.extraArgs ?? []),
    '-b',
    '-',
    `${creds.user}@127.0.0.1`,
  ];
  return run('sftp', args, env(creds), `${commands.join('\n')}\n`, options.cwd);
}

/** `ssh user@host COMMAND…` (no terminal); stdin is `input`; `extraArgs` before the host. */
export function sshExec(
  port: number,
  creds: Credentials,
  command: string[],
  input = '',
  extraArgs: string[] = [],
): Promise<ClientRun> {
  const args = [
    ...commonOptions(port, creds, '-p'),
    ...extraArgs,
    '-T',
    `${creds.user}@127.0.0.1`,
    ...command,
  ];
  return run('ssh', args, env(creds), input);
}

/** True when the OpenSSH client tools are installed. */
export function haveOpenSsh(): Promise<boolean> {
  return new Promise((resolve) =>
    execFile('sftp', ['-h'], (err) => resolve(!err || err.code !== 'ENOENT')),
  );
}
