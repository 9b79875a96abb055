/**
 * For the cluster tests: the admin console's `sessions` and `nodes` as JSON,
 * the worker processes of a primary, and logins that report how they failed.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { sshExec } from './openssh';
import type { Client } from 'ssh2';

export const ADMIN = { user: 'admin', password: 'password' };

export interface SessionRow {
  id: string;
  node: string | null;
  pid: number | null;
  worker: number | null;
  user: string | null;
  ip: string;
  current: boolean;
  bytes: number | null;
}

export interface NodeRow {
  name: string;
  pid: number;
  workers: number;
  version: string;
  heartbeatAt: string;
  sessions: number;
  current: boolean;
}

export { loginError } from './ssh-client';

/** Runs one console command through OpenSSH's ssh; its stdout, failing the test on an error. */
export async function adminRun(port: number, words: string[]): Promise<string> {
  const run = await sshExec(port, ADMIN, words);
  expect(run.code, `${words.join(' ')}: ${run.stderr}`).to.equal(0);
  return run.stdout;
}

export async function sessionsOf(port: number): Promise<SessionRow[]> {
  return JSON.parse(await adminRun(port, ['sessions', '--json'])) as SessionRow[];
}

export async function nodesOf(port: number): Promise<NodeRow[]> {
  return JSON.parse(await adminRun(port, ['nodes', '--json'])) as NodeRow[];
}

/** The child processes of `pid` (a primary's workers). */
export function childrenOf(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text === '' ? [] : text.split(/\s+/).map(Number);
  } catch {
    return [];
  }
}

/** Runs one console command on an admin connection already open (it stays on its process). */
export function execOn(client: Client, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, channel) => {
      if (err) {
        reject(err);
        return;
      }
      let out = '';
      let errText = '';
      channel.on('data', (d: Buffer) => (out += d.toString()));
      channel.stderr.on('data', (d: Buffer) => (errText += d.toString()));
      let code: number | null = null;
      channel.on('exit', (c: number | null) => (code = c));
      channel.on('close', () => {
        if (code === 0) resolve(out);
        else reject(new Error(`${command}: exit ${code}: ${errText}`));
      });
    });
  });
}
