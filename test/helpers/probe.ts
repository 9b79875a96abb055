/**
 * Bare TCP probes of the server's front door, for the connection limits: was
 * a connection let in (the server's SSH banner arrived) or dropped before it?
 * Also polling with backoff, and the JSON lines of the server's log.
 */
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export interface Probe {
  result: 'accepted' | 'dropped';
  /** Still open when accepted: the caller closes it (or waits for the server to). */
  socket: net.Socket;
  /** Resolves when the socket has closed, whoever closed it. */
  closed: Promise<void>;
}

/**
 * Opens a TCP connection that sends nothing (or `send`). The server writes its
 * identification line at once to a connection it keeps; a dropped one is
 * closed before any byte.
 */
export function probe(
  port: number,
  options: { localAddress?: string; send?: string } = {},
): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: options.localAddress });
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    let settled = false;
    const settle = (result: Probe['result']): void => {
      if (settled) return;
      settled = true;
      resolve({ result, socket, closed });
    };
    socket.once('connect', () => {
      if (options.send !== undefined) socket.write(options.send);
    });
    socket.once('data', (chunk: Buffer) => {
      if (chunk.toString('latin1').startsWith('SSH-')) settle('accepted');
      else reject(new Error(`unexpected greeting ${JSON.stringify(chunk.toString('latin1'))}`));
    });
    // A refused connection may be reset rather than closed cleanly.
    socket.on('error', () => undefined);
    socket.once('close', () => settle('dropped'));
  });
}

/** Ends a probe's socket and waits for it to close. */
export async function closeProbe(p: Probe): Promise<void> {
  p.socket.destroy();
  await p.closed;
}

/**
 * Polls `check` with backoff (20 ms doubling to 500 ms) until it returns true,
 * failing after `ms`. For conditions that come with time (a ban expiring),
 * never for ordering.
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  ms = 15000,
): Promise<void> {
  const deadline = Date.now() + ms;
  let delay = 20;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 500);
  }
}

/** Every JSON line of the server's daily logs (a half-written last line is skipped). */
export async function logLines(dataDir: string): Promise<Array<Record<string, unknown>>> {
  const dir = path.join(dataDir, 'log');
  const files = (await fsp.readdir(dir).catch(() => [] as string[])).filter((n) =>
    /^\d{4}-\d\d-\d\d\.log$/.test(n),
  );
  const lines: Array<Record<string, unknown>> = [];
  for (const f of files.sort()) {
    for (const line of (await fsp.readFile(path.join(dir, f), 'utf8')).split('\n')) {
      if (line.trim() === '') continue;
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // The line being written right now.
      }
    }
  }
  return lines;
}

/** Waits until the log has a line with `event` whose fields include `fields`. */
export async function waitForLog(
  dataDir: string,
  event: string,
  fields: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await waitUntil(`log event ${event} ${JSON.stringify(fields)}`, async () => {
    found = (await logLines(dataDir)).find(
      (l) => l.event === event && Object.entries(fields).every(([k, v]) => l[k] === v),
    );
    return found !== undefined;
  });
  return found as Record<string, unknown>;
}
