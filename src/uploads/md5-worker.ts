/**
 * The background MD5 thread of the upload ledger (see background-md5.ts).
 *
 * It hashes uploads by reading back, with pread, the bytes the main thread
 * reports as written, on the main thread's own file descriptor (threads share
 * them). Messages are handled strictly in order, and every 'finish' or 'drop'
 * is answered only after everything sent before it, so once the main thread
 * has that answer this thread will not touch the descriptor again.
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parentPort } from 'node:worker_threads';
import type { Md5Hello, Md5Reply, Md5Request } from './background-md5';

interface Stream {
  fd: number;
  hash: Hash;
  hashed: number;
  failed: boolean;
}

const streams = new Map<number, Stream>();
const buffer = Buffer.allocUnsafe(256 * 1024);

function extend(s: Stream, to: number): void {
  if (s.failed) return;
  try {
    while (s.hashed < to) {
      const n = fs.readSync(s.fd, buffer, 0, Math.min(buffer.length, to - s.hashed), s.hashed);
      if (n <= 0) {
        // The file is shorter than what was reported written (truncated meanwhile).
        s.failed = true;
        return;
      }
      s.hash.update(buffer.subarray(0, n));
      s.hashed += n;
    }
  } catch {
    s.failed = true;
  }
}

function handle(m: Md5Request): Md5Reply | undefined {
  switch (m.t) {
    case 'open':
      streams.set(m.id, { fd: m.fd, hash: createHash('md5'), hashed: 0, failed: false });
      if (m.to > 0) extend(streams.get(m.id) as Stream, m.to);
      return undefined;
    case 'extend': {
      const s = streams.get(m.id);
      if (s) extend(s, m.to);
      return undefined;
    }
    case 'finish': {
      const s = streams.get(m.id);
      streams.delete(m.id);
      if (!s || s.failed) return { id: m.id, md5: undefined, bytes: 0 };
      return { id: m.id, md5: s.hash.digest('hex'), bytes: s.hashed };
    }
    case 'drop':
      streams.delete(m.id);
      return { id: m.id, md5: undefined, bytes: 0 };
  }
}

// The main thread sets this thread's scheduling priority (see BackgroundMd5), so it needs the
// kernel's id for it; Linux names it in /proc/thread-self.
try {
  const tid = Number(path.basename(fs.readlinkSync('/proc/thread-self')));
  if (Number.isInteger(tid) && tid > 0) parentPort?.postMessage({ tid } satisfies Md5Hello);
} catch {
  // Not Linux: the thread keeps the process's priority.
}

parentPort?.on('message', (m: Md5Request) => {
  const reply = handle(m);
  if (reply) parentPort?.postMessage(reply);
});
