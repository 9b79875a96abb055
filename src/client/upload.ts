/** Uploads through the engine (the resume rules are in transfer.ts). */
import { createHash, type Hash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { Ext, OpenFlag } from '../sftp/constants';
import { ClientError, DestinationExistsError } from './errors';
import type { SftpChannel } from './sftp-channel';
import {
  hashLocal,
  isDirectory,
  isRegular,
  remoteMd5,
  remoteStat,
  verify,
} from './transfer-checks';
import {
  concurrency,
  reporter,
  throwIfAborted,
  writeBlock,
  type TransferOptions,
  type TransferResult,
} from './transfer-options';
import { Window } from './transfer-window';

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
  const auto = options.resume !== 'never' && remote !== undefined && isRegular(remote);
  const hash = createHash('md5');
  if (auto && remoteSize > 0 && remoteSize < size && sftp.hasExtension(Ext.RESUME_UPLOAD)) {
    if (options.resume === 'ask') {
      throw new DestinationExistsError(`shorter than yours: ${remoteSize} of ${size} bytes`, true);
    }
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
    throw new DestinationExistsError(
      remoteSize > size
        ? `larger than yours: ${remoteSize} of ${size} bytes`
        : 'its content differs from yours',
    );
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
