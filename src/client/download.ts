/** Downloads through the engine (the resume rules are in transfer.ts). */
import { createHash, type Hash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { OpenFlag } from '../sftp/constants';
import { ClientError, DestinationExistsError, ProtocolError, ResumeMismatchError } from './errors';
import type { SftpChannel } from './sftp-channel';
import { hashLocal, isDirectory, localSize, remoteMd5, verify } from './transfer-checks';
import {
  concurrency,
  readBlock,
  reporter,
  throwIfAborted,
  type TransferOptions,
  type TransferResult,
} from './transfer-options';
import { closeLanes, openLanes, type Lane } from './transfer-segments';
import { Window } from './transfer-window';

/** Requests in flight at most, over all the segments of one download. */
const MAX_IN_FLIGHT = 256;

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
  const auto = options.resume !== 'never' && sftp.canCheckFile();
  const hash = createHash('md5');
  if (auto && have > 0 && have < size && options.resume === 'ask') {
    throw new DestinationExistsError(`shorter than the server's: ${have} of ${size} bytes`, true);
  }
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
    throw new DestinationExistsError(
      have > size
        ? `larger than the server's: ${have} of ${size} bytes`
        : "its content differs from the server's",
    );
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
  /** The end of the bytes written and hashed in order from the start: the proven prefix. */
  let hashed = resumedFrom;
  let lanes: Lane[] = [];
  try {
    if (out) {
      lanes = await openLanes(sftp, handle, remotePath, options.segments ?? 1, size - resumedFrom);
      const window = new Window(
        Math.min(MAX_IN_FLIGHT, concurrency(options) * lanes.length),
        options.signal,
      );
      // Blocks may complete out of order; the MD5 takes them in order, and a
      // block keeps its slot until hashed so memory stays within the window.
      const done = new Map<number, Buffer>();
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
      const fetch = async (lane: Lane, at: number, n: number): Promise<Buffer> => {
        const parts: Buffer[] = [];
        let got = 0;
        while (got < n) {
          // Servers may answer a READ with fewer bytes than asked: ask for the rest.
          const data = await lane.sftp.read(lane.handle, at + got, n - got);
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
      for (let i = 0; offset < size && (await window.acquire()); i++) {
        const at = offset;
        const n = Math.min(block, size - at);
        if (options.throttle) await options.throttle(n);
        // The lanes take the blocks in turn: they complete nearly in order.
        fetch(lanes[i % lanes.length] as Lane, at, n).then(
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
      await closeLanes(lanes);
      await out.close();
    }
  } catch (err) {
    await closeLanes(lanes);
    // Blocks after a missing one were written too: keep only the proven
    // prefix, so that the next try continues it (its MD5 is the server's).
    await out?.truncate(hashed).catch(() => undefined);
    await out?.close().catch(() => undefined);
    await sftp.close(handle).catch(() => undefined);
    throw err;
  }
  await sftp.close(handle);
  const md5 = hash.digest('hex');
  const verified = await verify(sftp, remotePath, md5, out !== undefined);
  progress.finish();
  return {
    total: size,
    bytesSent,
    resumedFrom,
    md5,
    verified,
    segments: Math.max(1, lanes.length),
  };
}
