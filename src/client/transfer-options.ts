/** What a transfer may be told, what it answers, and the sizes its requests take. */
import { TransferAbortedError } from './errors';
import { ProgressReporter, type ProgressListener } from './progress';
import type { SftpLimits } from './sftp-channel';

export interface TransferOptions {
  /**
   * 'auto' (default) continues a partial destination when its bytes are proven.
   * 'ask' is 'auto' except that a shorter destination is left alone: the
   * transfer throws DestinationExistsError (`shorter`) so the caller can ask.
   */
  resume?: 'auto' | 'never' | 'ask';
  /** Replace a destination that is not a partial copy of the source (default true). */
  overwrite?: boolean;
  onProgress?: ProgressListener;
  /** Least time between two progress reports (default 100 ms); a final one always comes. */
  progressIntervalMs?: number;
  /** Requests in flight at once (default 64, as OpenSSH's sftp). */
  concurrency?: number;
  /**
   * Sessions a download of a large file is spread over (the transfer's own
   * and more on the same connection), each with `concurrency` requests in
   * flight; default 1. Uploads use one.
   */
  segments?: number;
  /** Upper bound for one request's data; the server's limits bound it too. */
  blockSize?: number;
  signal?: AbortSignal;
  /**
   * Awaited before each request moves `bytes` of data: a bandwidth limit
   * (the terminal client's `-l`) delays the transfer here.
   */
  throttle?: (bytes: number) => Promise<void>;
}

export interface TransferResult {
  total: number;
  /** Bytes actually moved by this call. */
  bytesSent: number;
  /** Where this call started: the length of the proven partial copy, else 0. */
  resumedFrom: number;
  /** MD5 of the whole file, hex. */
  md5: string;
  /** The server confirmed the whole-file MD5 (false only when it lacks check-file). */
  verified: boolean;
  /** SFTP sessions the data went over (more than 1 for a download in segments). */
  segments?: number;
}

const DEFAULT_CONCURRENCY = 64;
const DEFAULT_PROGRESS_INTERVAL_MS = 100;
/** Never more than this per request, whatever a server advertises, to keep memory bounded. */
const MAX_BLOCK = 1024 * 1024;
/** Room for a WRITE's header (length, type, id, handle, offset, data length). */
const WRITE_HEADER_ROOM = 1024;

function blockSize(limit: number, options: TransferOptions): number {
  return Math.max(1, Math.min(limit, options.blockSize ?? MAX_BLOCK, MAX_BLOCK));
}

export function writeBlock(limits: SftpLimits, options: TransferOptions): number {
  return blockSize(Math.min(limits.maxWrite, limits.maxPacket - WRITE_HEADER_ROOM), options);
}

export function readBlock(limits: SftpLimits, options: TransferOptions): number {
  return blockSize(limits.maxRead, options);
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new TransferAbortedError();
}

export function reporter(
  total: number,
  resumedFrom: number,
  options: TransferOptions,
): ProgressReporter {
  return new ProgressReporter({
    total,
    resumedFrom,
    listener: options.onProgress,
    intervalMs: options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
  });
}

export function concurrency(options: TransferOptions): number {
  return Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
}
