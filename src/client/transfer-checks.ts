/**
 * What a transfer checks: the destination (missing, a directory, a regular
 * file) and MD5s of local bytes and of server ranges.
 */
import type { Hash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { Attrs } from '../sftp/codec';
import {
  ClientError,
  DestinationExistsError,
  NotFoundError,
  ProtocolError,
  VerifyError,
} from './errors';
import { fileTypeOf } from '../util/file-type';
import type { SftpChannel } from './sftp-channel';
import { throwIfAborted } from './transfer-options';

/** Local hashing reads this much at a time. */
const HASH_CHUNK = 1024 * 1024;

export function isDirectory(a: Attrs): boolean {
  return a.permissions !== undefined && fileTypeOf(a.permissions) === 'directory';
}

export function isRegular(a: Attrs): boolean {
  return a.permissions === undefined || fileTypeOf(a.permissions) === 'file';
}

/** Feeds `length` bytes of a local file from offset 0 into `hash`. */
export async function hashLocal(
  fh: fsp.FileHandle,
  length: number,
  hash: Hash,
  signal: AbortSignal | undefined,
): Promise<void> {
  const buf = Buffer.allocUnsafe(Math.min(HASH_CHUNK, Math.max(1, length)));
  let pos = 0;
  while (pos < length) {
    throwIfAborted(signal);
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, length - pos), pos);
    if (bytesRead === 0) throw new ClientError('the local file shrank while it was being read');
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
}

/** MD5 of a range of a server file (length 0 = to the end), hex. */
export async function remoteMd5(sftp: SftpChannel, path: string, length = 0): Promise<string> {
  const { algorithm, digests } = await sftp.checkFile(
    { path },
    { algorithms: ['md5'], offset: 0, length, blockSize: 0 },
  );
  const digest = digests[0];
  if (algorithm.toLowerCase() !== 'md5' || !digest || digest.length !== 16) {
    throw new ProtocolError(`check-file answered with ${algorithm} instead of md5`);
  }
  return digest.toString('hex');
}

export async function remoteStat(sftp: SftpChannel, path: string): Promise<Attrs | undefined> {
  try {
    return await sftp.stat(path);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

export async function localSize(path: string): Promise<number | undefined> {
  try {
    const st = await fsp.stat(path);
    if (st.isDirectory()) throw new DestinationExistsError('the local destination is a directory');
    return st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Compares the whole-file MD5 with the server's; `needed` is false when already compared. */
export async function verify(
  sftp: SftpChannel,
  remotePath: string,
  md5: string,
  needed: boolean,
): Promise<boolean> {
  if (!needed) return true;
  if (!sftp.canCheckFile()) return false;
  const remote = await remoteMd5(sftp, remotePath);
  if (remote !== md5) throw new VerifyError(md5, remote);
  return true;
}
