/**
 * The background MD5 thread of the upload ledger (see background-md5.ts).
 *
 * It hashes uploads by reading back, with pread, the bytes the main thread
 * reports as written, on the main thread's own file descriptor (threads share
 * them). Messages are handled strictly in order, and every 'finish' or 'drop'
 * is answered only after everything sent before it, so once the main thread
 * has that answer this thread will not touch the descriptor again.
 *
 * A stream opened with `every` keeps its digest in hash-wasm's MD5, whose
 * running state can be saved: each time the hashed prefix passes a multiple
 * of `every` bytes, the state is sent back as a checkpoint, which another
 * process can load to go on from there. Without `every`, Node's own MD5 (the
 * faster of the two) does the work.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { createMD5 } from 'hash-wasm';
import type { Md5Checkpoint, Md5Hello, Md5Reply, Md5Request } from './background-md5';

/** The part of a hash the thread uses: Node's and hash-wasm's alike. */
interface RunningMd5 {
  update(data: Uint8Array): unknown;
  digest(encoding: 'hex'): string;
}

interface Stream {
  id: number;
  fd: number;
  hash: RunningMd5;
  hashed: number;
  failed: boolean;
  /** Checkpoint every this many bytes (0: none), with the state saved by `save`. */
  every: number;
  save: (() => Uint8Array) | undefined;
}

const streams = new Map<number, Stream>();
const buffer = Buffer.allocUnsafe(256 * 1024);

function checkpoint(s: Stream): void {
  if (!s.save) return;
  const state = s.save();
  parentPort?.postMessage({
    t: 'checkpoint',
    id: s.id,
    bytes: s.hashed,
    state,
  } satisfies Md5Checkpoint);
}

function extend(s: Stream, to: number): void {
  if (s.failed) return;
  try {
    while (s.hashed < to) {
      let want = Math.min(buffer.length, to - s.hashed);
      if (s.every > 0) want = Math.min(want, s.every - (s.hashed % s.every));
      const n = fs.readSync(s.fd, buffer, 0, want, s.hashed);
      if (n <= 0) {
        // The file is shorter than what was reported written (truncated meanwhile).
        s.failed = true;
        return;
      }
      s.hash.update(buffer.subarray(0, n));
      s.hashed += n;
      if (s.every > 0 && s.hashed % s.every === 0) checkpoint(s);
    }
  } catch {
    s.failed = true;
  }
}

async function open(m: Extract<Md5Request, { t: 'open' }>): Promise<void> {
  const s: Stream = {
    id: m.id,
    fd: m.fd,
    hash: createHash('md5'),
    hashed: 0,
    failed: false,
    every: m.every ?? 0,
    save: undefined,
  };
  if (s.every > 0 || m.from) {
    const wasm = await createMD5();
    wasm.init();
    if (m.from) {
      wasm.load(m.from.state);
      s.hashed = m.from.bytes;
    }
    s.hash = wasm;
    s.save = () => wasm.save();
  }
  streams.set(m.id, s);
  if (m.to > s.hashed) extend(s, m.to);
}

async function handle(m: Md5Request): Promise<Md5Reply | undefined> {
  switch (m.t) {
    case 'open':
      await open(m).catch(() => {
        streams.set(m.id, {
          id: m.id,
          fd: m.fd,
          hash: createHash('md5'),
          hashed: 0,
          failed: true,
          every: 0,
          save: undefined,
        });
      });
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

// In order: opening a stream with a saved state is asynchronous (hash-wasm loads its module).
let queue: Promise<void> = Promise.resolve();
parentPort?.on('message', (m: Md5Request) => {
  queue = queue.then(async () => {
    const reply = await handle(m);
    if (reply) parentPort?.postMessage(reply);
  });
});
