/**
 * The transfer engine: pipelined uploads and downloads with MD5-proven resume
 * and a whole-file MD5 check at the end.
 *
 * Resume rules (resume: 'auto', the default):
 * - destination missing or empty: send everything;
 * - destination shorter than the source: continue after it, once its bytes are
 *   proven to be the source's first bytes by MD5 (upload: resume-upload@miniftp,
 *   the server compares; download: check-file over the server's range). A
 *   mismatch throws ResumeMismatchError and changes nothing: the caller decides
 *   whether to start over with resume: 'never';
 * - destination the same size: if the whole-file MD5s match there is nothing to
 *   send, otherwise it is another file and is replaced;
 * - destination larger: another file, replaced.
 * "Replaced" needs `overwrite` (default true); with overwrite: false the
 * transfer throws DestinationExistsError instead. resume: 'never' always sends
 * the whole file. Without the extensions (a server other than MiniFTP) nothing
 * can be proven: transfers start over and end unverified (`verified: false`).
 */
import { createHash, type Hash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { Attrs } from '../sftp/codec';
import { Ext, OpenFlag } from '../sftp/constants';
import {
  ClientError,
  DestinationExistsError,
  NotFoundError,
  ProtocolError,
  ResumeMismatchError,
  TransferAbortedError,
  VerifyError,
} from './errors';
import { ProgressReporter, type ProgressListener } from './progress';
import type { SftpChannel, SftpLimits } from './sftp-channel';

export type { TransferProgress } from './progress';

export interface TransferOptions {
  /** 'auto' (default) continues a partial destination when its bytes are proven. */
  resume?: 'auto' | 'never';
  /** Replace a destination that is not a partial copy of the source (default true). */
  overwrite?: boolean;
  onProgress?: ProgressListener;
  /** Least time between two progress reports (default 100 ms); a final one always comes. */
  progressIntervalMs?: number;
  /** Requests in flight at once (default 64, as OpenSSH's sftp). */
  concurrency?: number;
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
}

const DEFAULT_CONCURRENCY = 64;
const DEFAULT_PROGRESS_INTERVAL_MS = 100;
/** Never more than this per request, whatever a server advertises, to keep memory bounded. */
const MAX_BLOCK = 1024 * 1024;
/** Room for a WRITE's header (length, type, id, handle, offset, data length). */
const WRITE_HEADER_ROOM = 1024;
/** Local hashing reads this much at a time. */
const HASH_CHUNK = 1024 * 1024;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

function isDirectory(a: Attrs): boolean {
  return a.permissions !== undefined && (a.permissions & S_IFMT) === S_IFDIR;
}

function isRegular(a: Attrs): boolean {
  return a.permissions === undefined || (a.permissions & S_IFMT) === S_IFREG;
}

function blockSize(limit: number, options: TransferOptions): number {
  return Math.max(1, Math.min(limit, options.blockSize ?? MAX_BLOCK, MAX_BLOCK));
}

function writeBlock(limits: SftpLimits, options: TransferOptions): number {
  return blockSize(Math.min(limits.maxWrite, limits.maxPacket - WRITE_HEADER_ROOM), options);
}

function readBlock(limits: SftpLimits, options: TransferOptions): number {
  return blockSize(limits.maxRead, options);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new TransferAbortedError();
}

/** Feeds `length` bytes of a local file from offset 0 into `hash`. */
async function hashLocal(
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

async function remoteStat(sftp: SftpChannel, path: string): Promise<Attrs | undefined> {
  try {
    return await sftp.stat(path);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

async function localSize(path: string): Promise<number | undefined> {
  try {
    const st = await fsp.stat(path);
    if (st.isDirectory()) throw new DestinationExistsError('the local destination is a directory');
    return st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * A bounded set of requests in flight. Each slot is held from the request until
 * its data is no longer needed, so memory stays within `size` blocks. The first
 * failure (or an abort) stops new requests; outstanding ones are awaited.
 */
class Window {
  private active = 0;
  private waiters: Array<() => void> = [];
  failure: unknown;
  private readonly onAbort = (): void => this.fail(new TransferAbortedError());

  constructor(
    private readonly size: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Waits for a free slot; false once the transfer must stop. */
  async acquire(): Promise<boolean> {
    for (;;) {
      if (this.failure !== undefined) return false;
      if (this.active < this.size) {
        this.active++;
        return true;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  release(): void {
    this.active--;
    this.wake();
  }

  fail(err: unknown): void {
    this.failure ??= err;
    this.wake();
  }

  /** Waits until every slot is released, then throws the first failure if any. */
  async finish(): Promise<void> {
    while (this.active > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.signal?.removeEventListener('abort', this.onAbort);
    if (this.failure !== undefined) throw this.failure;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

function reporter(total: number, resumedFrom: number, options: TransferOptions): ProgressReporter {
  return new ProgressReporter({
    total,
    resumedFrom,
    listener: options.onProgress,
    intervalMs: options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
  });
}

function concurrency(options: TransferOptions): number {
  return Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
}

// ---- upload ------------------------------------------------------------------

interface UploadStart {
  /** Write handle on the server, or undefined when the file is already there. */
  handle: Buffer | undefined;
  resumedFrom: number;
  /** MD5 of the local bytes before `resumedFrom`, continued by the transfer. */
  hash: Hash;
}

async function startUpload(
  sftp: SftpChannel,
  fh: fsp.FileHandle,
  size: number,
  remotePath: string,
  options: TransferOptions,
): Promise<UploadStart> {
  const remote = await remoteStat(sftp, remotePath);
  const remoteSize = remote?.size ?? 0;
  if (remote && isDirectory(remote)) {
    throw new DestinationExistsError('the destination on the server is a directory');
  }
  const auto = (options.resume ?? 'auto') === 'auto' && remote !== undefined && isRegular(remote);
  const hash = createHash('md5');
  if (auto && remoteSize > 0 && remoteSize < size && sftp.hasExtension(Ext.RESUME_UPLOAD)) {
    await hashLocal(fh, remoteSize, hash, options.signal);
    // The server compares the digests and, on a match, truncates to remoteSize
    // and hands back a write handle; otherwise ResumeMismatchError propagates.
    const handle = await sftp.resumeUpload(remotePath, remoteSize, hash.copy().digest());
    return { handle, resumedFrom: remoteSize, hash };
  }
  if (auto && remoteSize === size && sftp.canCheckFile()) {
    await hashLocal(fh, size, hash, options.signal);
    if (hash.copy().digest('hex') === (await remoteMd5(sftp, remotePath))) {
      return { handle: undefined, resumedFrom: size, hash };
    }
  }
  if (remoteSize > 0 && options.overwrite === false) {
    throw new DestinationExistsError('a different file of that name exists on the server');
  }
  const handle = await sftp.open(remotePath, OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC);
  return { handle, resumedFrom: 0, hash: createHash('md5') };
}

/** Uploads a local file to `remotePath` (see the resume rules at the top). */
export async function upload(
  sftp: SftpChannel,
  localPath: string,
  remotePath: string,
  options: TransferOptions = {},
): Promise<TransferResult> {
  throwIfAborted(options.signal);
  const fh = await fsp.open(localPath, 'r');
  try {
    const size = (await fh.stat()).size;
    const block = writeBlock(await sftp.limits(), options);
    const { handle, resumedFrom, hash } = await startUpload(sftp, fh, size, remotePath, options);
    const progress = reporter(size, resumedFrom, options);
    progress.start();
    let bytesSent = 0;
    if (handle) {
      const window = new Window(concurrency(options), options.signal);
      // One buffer is enough: write() copies the data into its packet at once.
      const buf = Buffer.allocUnsafe(Math.min(block, Math.max(1, size - resumedFrom)));
      let offset = resumedFrom;
      while (offset < size && (await window.acquire())) {
        const n = Math.min(block, size - offset);
        let chunk: Buffer;
        try {
          if (options.throttle) await options.throttle(n);
          const { bytesRead } = await fh.read(buf, 0, n, offset);
          if (bytesRead !== n) throw new ClientError('the local file shrank during the upload');
          chunk = buf.subarray(0, n);
        } catch (err) {
          window.fail(err);
          window.release();
          break;
        }
        hash.update(chunk);
        sftp
          .write(handle, offset, chunk)
          .then(
            () => {
              bytesSent += n;
              progress.add(n);
            },
            (err: unknown) => window.fail(err),
          )
          .finally(() => window.release());
        offset += n;
      }
      try {
        await window.finish();
      } catch (err) {
        await sftp.close(handle).catch(() => undefined);
        throw err;
      }
      await sftp.close(handle);
    }
    const md5 = hash.digest('hex');
    const verified = await verify(sftp, remotePath, md5, handle !== undefined);
    progress.finish();
    return { total: size, bytesSent, resumedFrom, md5, verified };
  } finally {
    await fh.close();
  }
}

/** Compares the whole-file MD5 with the server's; `needed` is false when already compared. */
async function verify(
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

// ---- download ----------------------------------------------------------------

interface DownloadStart {
  /** Local file open for writing, or undefined when it is already complete. */
  out: fsp.FileHandle | undefined;
  resumedFrom: number;
  hash: Hash;
}

async function startDownload(
  sftp: SftpChannel,
  size: number,
  remotePath: string,
  localPath: string,
  options: TransferOptions,
): Promise<DownloadStart> {
  const existing = await localSize(localPath);
  const have = existing ?? 0;
  const auto = (options.resume ?? 'auto') === 'auto' && sftp.canCheckFile();
  const hash = createHash('md5');
  if (auto && have > 0 && have <= size) {
    const out = await fsp.open(localPath, 'r+');
    try {
      await hashLocal(out, have, hash, options.signal);
      const local = hash.copy().digest('hex');
      const remote = await remoteMd5(sftp, remotePath, have);
      if (have < size) {
        if (local !== remote) {
          throw new ResumeMismatchError(
            `resume refused: the ${have} bytes of the local file differ from the server's ` +
              `(MD5 ${local} vs ${remote})`,
            have,
          );
        }
        return { out, resumedFrom: have, hash };
      }
      if (local === remote) {
        await out.close();
        return { out: undefined, resumedFrom: size, hash };
      }
    } catch (err) {
      await out.close();
      throw err;
    }
    await out.close();
  }
  if (have > 0 && options.overwrite === false) {
    throw new DestinationExistsError('a different local file of that name exists');
  }
  return { out: await fsp.open(localPath, 'w'), resumedFrom: 0, hash: createHash('md5') };
}

/** Downloads `remotePath` to a local file (see the resume rules at the top). */
export async function download(
  sftp: SftpChannel,
  remotePath: string,
  localPath: string,
  options: TransferOptions = {},
): Promise<TransferResult> {
  throwIfAborted(options.signal);
  const attrs = await sftp.stat(remotePath);
  if (isDirectory(attrs)) throw new ClientError('the source on the server is a directory');
  if (attrs.size === undefined) throw new ProtocolError('the server did not send the file size');
  const size = attrs.size;
  const block = readBlock(await sftp.limits(), options);
  const handle = await sftp.open(remotePath, OpenFlag.READ);
  let bytesSent = 0;
  let start: DownloadStart;
  try {
    start = await startDownload(sftp, size, remotePath, localPath, options);
  } catch (err) {
    await sftp.close(handle).catch(() => undefined);
    throw err;
  }
  const { out, resumedFrom, hash } = start;
  const progress = reporter(size, resumedFrom, options);
  progress.start();
  try {
    if (out) {
      const window = new Window(concurrency(options), options.signal);
      // Blocks may complete out of order; the MD5 takes them in order, and a
      // block keeps its slot until hashed so memory stays within the window.
      const done = new Map<number, Buffer>();
      let hashed = resumedFrom;
      const absorb = (): void => {
        for (let data = done.get(hashed); data; data = done.get(hashed)) {
          done.delete(hashed);
          hash.update(data);
          hashed += data.length;
          window.release();
        }
      };
      // Once the transfer stops, blocks waiting behind an unfinished one will
      // never be hashed: free their slots so the window can drain.
      const dropDone = (): void => {
        for (let i = done.size; i > 0; i--) window.release();
        done.clear();
      };
      const fetch = async (at: number, n: number): Promise<Buffer> => {
        const parts: Buffer[] = [];
        let got = 0;
        while (got < n) {
          // Servers may answer a READ with fewer bytes than asked: ask for the rest.
          const data = await sftp.read(handle, at + got, n - got);
          if (!data || data.length === 0) {
            throw new ClientError('the file on the server shrank during the download');
          }
          await out.write(data, 0, data.length, at + got);
          parts.push(data);
          got += data.length;
          bytesSent += data.length;
          progress.add(data.length);
        }
        return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
      };
      let offset = resumedFrom;
      while (offset < size && (await window.acquire())) {
        const at = offset;
        const n = Math.min(block, size - at);
        if (options.throttle) await options.throttle(n);
        fetch(at, n).then(
          (data) => {
            done.set(at, data);
            if (window.failure === undefined) absorb();
            else dropDone();
          },
          (err: unknown) => {
            window.fail(err);
            window.release();
            dropDone();
          },
        );
        offset += n;
      }
      await window.finish();
      await out.close();
    }
  } catch (err) {
    await out?.close().catch(() => undefined);
    await sftp.close(handle).catch(() => undefined);
    throw err;
  }
  await sftp.close(handle);
  const md5 = hash.digest('hex');
  const verified = await verify(sftp, remotePath, md5, out !== undefined);
  progress.finish();
  return { total: size, bytesSent, resumedFrom, md5, verified };
}
