/**
 * One delivery attempt of one event: a command run without a shell with the event as JSON on
 * its standard input, and/or an HTTP POST of the same JSON signed with HMAC-SHA256. The attempt
 * succeeds when every configured target accepted it (exit status 0, a 2xx answer).
 */
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { clip } from '../util/clip';

export const SIGNATURE_HEADER = 'X-MiniFTP-Signature';

export interface DeliveryTargets {
  /** argv of the command; empty: none. */
  command: readonly string[];
  /** URL to POST to; empty: none. */
  url: string;
  /** HMAC key; empty: no signature header. */
  secret: string;
  timeoutMs: number;
}

/** "sha256=<hex>" of `body` under `secret`. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Resolves when the target took the event; rejects with a one-line reason (no secrets in it). */
export async function deliver(
  t: DeliveryTargets,
  event: string,
  id: number,
  body: string,
): Promise<void> {
  if (t.command.length > 0) await runCommand(t, body);
  if (t.url !== '') await post(t, event, id, body);
}

function runCommand(t: DeliveryTargets, body: string): Promise<void> {
  const [file, ...args] = t.command as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hook command timed out after ${t.timeoutMs} ms`));
    }, t.timeoutMs);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 4096) stderr += chunk;
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`hook command could not start: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else {
        const why = signal ? `killed by ${signal}` : `exit status ${code}`;
        const said = stderr.trim() ? `: ${clip(stderr.trim().split('\n').pop() ?? '')}` : '';
        reject(new Error(`hook command failed (${why})${said}`));
      }
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(body);
  });
}

function post(t: DeliveryTargets, event: string, id: number, body: string): Promise<void> {
  const url = new URL(t.url);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'user-agent': 'MiniFTP-hooks',
    'x-miniftp-event': event,
    'x-miniftp-delivery': String(id),
  };
  if (t.secret !== '') headers[SIGNATURE_HEADER.toLowerCase()] = signature(t.secret, body);
  const lib = url.protocol === 'https:' ? https : http;
  // The URL is not repeated in errors: it may carry credentials.
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method: 'POST', headers, timeout: t.timeoutMs }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      res.on('end', () =>
        status >= 200 && status < 300
          ? resolve()
          : reject(new Error(`hook URL answered HTTP ${status}`)),
      );
      res.on('error', (err) => reject(new Error(`hook URL: ${err.message}`)));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${t.timeoutMs} ms`)));
    req.on('error', (err) => reject(new Error(`hook URL: ${err.message}`)));
    req.end(body);
  });
}
