/**
 * The bodies of the OpenSSH and filexfer-extensions requests the client
 * decodes itself: limits@openssh.com and check-file.
 */
import type { PacketReader, PacketWriter } from '../sftp/codec';
import { ProtocolError } from './errors';

export interface SftpLimits {
  maxPacket: number;
  maxRead: number;
  maxWrite: number;
  /** 0 when the server states no limit. */
  maxHandles: number;
}

/**
 * What OpenSSH's sftp assumes of a server that does not send limits@openssh.com:
 * 32 KiB reads and writes in packets of at most 34000 bytes (draft-02's minimum).
 */
export const DEFAULT_LIMITS: Readonly<SftpLimits> = {
  maxPacket: 34000,
  maxRead: 32 * 1024,
  maxWrite: 32 * 1024,
  maxHandles: 0,
};

export type CheckFileTarget = { path: string } | { handle: Buffer };

export interface CheckFileOptions {
  /** Preferred algorithms, best first: the server uses the first it knows. */
  algorithms: string[];
  offset?: number;
  /** 0 = to the end of the file. */
  length?: number;
  /** 0 = one digest over the whole range. */
  blockSize?: number;
}

export interface CheckFileResult {
  algorithm: string;
  /** One digest per block (a single one when blockSize was 0). */
  digests: Buffer[];
}

const DIGEST_LENGTH: Readonly<Record<string, number>> = {
  md5: 16,
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

/** limits@openssh.com's reply; a 0 keeps the conservative default for that field. */
export function readLimits(r: PacketReader): SftpLimits {
  const maxPacket = r.u64();
  const maxRead = r.u64();
  const maxWrite = r.u64();
  const maxHandles = r.u64();
  return {
    maxPacket: maxPacket || DEFAULT_LIMITS.maxPacket,
    maxRead: maxRead || DEFAULT_LIMITS.maxRead,
    maxWrite: maxWrite || DEFAULT_LIMITS.maxWrite,
    maxHandles,
  };
}

/**
 * check-file-name / check-file-handle (draft-ietf-secsh-filexfer-extensions):
 * the server hashes the range itself.
 */
export function writeCheckFile(
  w: PacketWriter,
  target: CheckFileTarget,
  options: CheckFileOptions,
): void {
  if ('path' in target) w.string(target.path);
  else w.bytes(target.handle);
  w.string(options.algorithms.join(','))
    .u64(options.offset ?? 0)
    .u64(options.length ?? 0)
    .u32(options.blockSize ?? 0);
}

/** The reply: string algorithm used, then the raw digests back to back, one per block. */
export function readCheckFile(r: PacketReader, blockSize: number): CheckFileResult {
  const algorithm = r.string();
  const raw = Buffer.from(r.rest());
  const size = DIGEST_LENGTH[algorithm.toLowerCase()];
  if (blockSize === 0 || size === undefined) return { algorithm, digests: [raw] };
  if (raw.length % size !== 0) {
    throw new ProtocolError(`check-file sent ${raw.length} bytes of ${algorithm} digests`);
  }
  const digests: Buffer[] = [];
  for (let at = 0; at < raw.length; at += size) digests.push(raw.subarray(at, at + size));
  return { algorithm, digests };
}
