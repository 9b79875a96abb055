/**
 * A thread of the hashing pool (see hash-pool.ts). It keeps the hash state of
 * the jobs the pool gives it and updates one with each slice of bytes it is
 * sent; the bytes come transferred, not copied, and nothing here touches a
 * file. Messages are handled in order, so a `drop` after a job's last slice
 * frees the state once that slice is done.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { HashSliceReply, HashWorkerRequest } from './hash-pool';

const states = new Map<number, Hash>();

function handle(m: Extract<HashWorkerRequest, { t: 'slice' }>): HashSliceReply {
  try {
    let hash = states.get(m.job);
    if (!hash) {
      hash = createHash(m.algorithm);
      states.set(m.job, hash);
    }
    hash.update(new Uint8Array(m.data, 0, m.length));
    if (!m.digest) return { job: m.job, digest: undefined, data: m.data };
    states.delete(m.job);
    return { job: m.job, digest: hash.digest(), data: m.data };
  } catch (err) {
    states.delete(m.job);
    const error = err instanceof Error ? err.message : 'failed';
    return { job: m.job, digest: undefined, data: m.data, error };
  }
}

parentPort?.on('message', (m: HashWorkerRequest) => {
  if (m.t === 'drop') {
    states.delete(m.job);
    return;
  }
  // The buffer goes back to the pool for the next slice.
  parentPort?.postMessage(handle(m), [m.data]);
});
