/** Digests of a file's byte range, read in bounded chunks (check-file, resume checks, md5sum). */
import { createHash, type Hash } from 'node:crypto';
import { MiniftpError } from '../errors';
import type { VFile } from './vfile';

/** Algorithms MiniFTP computes, as SFTP (check-file) and coreutils name them. */
export const HASH_ALGORITHMS = ['md5', 'sha1', 'sha256', 'sha512'] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

export function isHashAlgorithm(name: string): name is HashAlgorithm {
  return (HASH_ALGORITHMS as readonly string[]).includes(name);
}

const CHUNK = 1024 * 1024;

export interface RangeDigestOptions {
  algorithm: HashAlgorithm;
  offset: number;
  /** Bytes to hash; 0 = to the end of the file. */
  length: number;
  /** 0 = one digest of the whole range; otherwise one digest per block of this size. */
  blockSize: number;
  /** Refuse, before reading anything, a range that would need more digests than this. */
  maxDigests?: number;
}

/** Where a range ends and how many digests it takes; refuses what cannot be answered. */
export function planRange(size: number, o: RangeDigestOptions): { end: number; blocks: number } {
  if (o.offset > size)
    throw MiniftpError.invalid(`offset ${o.offset} is past the end of the file (${size} bytes)`);
  const end = o.length === 0 ? size : Math.min(size, o.offset + o.length);
  const blocks = o.blockSize > 0 ? Math.max(1, Math.ceil((end - o.offset) / o.blockSize)) : 1;
  if (o.maxDigests !== undefined && blocks > o.maxDigests) {
    const least = Math.ceil((end - o.offset) / o.maxDigests);
    throw MiniftpError.invalid(
      `${blocks} blocks would not fit in one reply (at most ${o.maxDigests}): ` +
        `ask for blocks of at least ${least} bytes, or a shorter range`,
    );
  }
  return { end, blocks };
}

/**
 * Digests of the range, one per block (or one), computed on the calling
 * thread. A range past the end of the file is refused. Requests of clients go
 * through the hashing pool instead (hash-pool.ts).
 */
export async function digestRange(file: VFile, o: RangeDigestOptions): Promise<Buffer[]> {
  const { end } = planRange((await file.stat()).size, o);
  const digests: Buffer[] = [];
  const buf = Buffer.allocUnsafe(CHUNK);
  let pos = o.offset;
  let hash: Hash = createHash(o.algorithm);
  let inBlock = 0;
  while (pos < end) {
    let want = Math.min(CHUNK, end - pos);
    if (o.blockSize > 0) want = Math.min(want, o.blockSize - inBlock);
    const n = await file.read(pos, want, buf, 0);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    pos += n;
    inBlock += n;
    if (o.blockSize > 0 && inBlock === o.blockSize) {
      digests.push(hash.digest());
      hash = createHash(o.algorithm);
      inBlock = 0;
    }
  }
  if (o.blockSize === 0 || inBlock > 0 || digests.length === 0) digests.push(hash.digest());
  return digests;
}
