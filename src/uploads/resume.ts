/**
 * The resume policy: an upload continues only when the bytes already on the
 * server are the client's. A writer still finishing in another session is
 * waited for (bounded), the MD5 of the first N bytes comes from the upload
 * record when it describes the file and is computed otherwise, and the file
 * is cut to N. The protocol side (src/sftp/resume.ts) only parses the
 * request and answers.
 */
import { createHash } from 'node:crypto';
import { MiniftpError } from '../errors';
import type { UploadRecord } from '../store/types';
import type { HashPool } from '../vfs/hash-pool';
import { fileKey } from '../vfs/checked-change';
import type { ResumableFs, ResumeRequest } from '../vfs/upload-tracker';
import type { VFile } from '../vfs/vfile';

/** How long a resume waits for a dropped session to finish its last writes. */
const WRITER_WAIT_MS = 15_000;

/** What the resume reads from the upload records. */
export interface RecordLookup {
  /** Resolves once a digest still being finished for `path` is recorded. */
  settled(user: string, path: string): Promise<void>;
  /** The record for a file, if it still describes the file as it is. */
  current(
    user: string,
    path: string,
    file: { size: number; mtimeMs: number },
  ): Promise<UploadRecord | undefined>;
}

async function prefixMd5(
  file: VFile,
  bytes: number,
  pool: HashPool,
  req: ResumeRequest,
): Promise<string> {
  // A range's length 0 means "to the end"; an empty prefix is simply the MD5 of nothing.
  if (bytes === 0) return createHash('md5').digest('hex');
  // On the hashing pool, charged to the user, dropped if the session's channel closes.
  const [digest] = await pool.digest(file, {
    algorithm: 'md5',
    offset: 0,
    length: bytes,
    blockSize: 0,
    user: req.user,
    signal: req.signal,
  });
  return (digest as Buffer).toString('hex');
}

/**
 * A client that reconnects right after a drop can be faster than the server
 * noticing the drop: the old session may still be finishing writes to this
 * file. Cutting the file under them would mix old and new bytes, so wait.
 */
async function waitForOtherWriters(fs: ResumableFs, req: ResumeRequest): Promise<void> {
  const st = await fs.stat(req.path).catch(() => undefined);
  if (!st) return;
  const key = fileKey(st);
  if (!fs.usage.isOpen(key)) return;
  // Waiting on a handle of our own would only time out: the client must close it first.
  if (req.writesTo(key)) {
    throw MiniftpError.busy(
      'resume refused: this session still has the file open for writing; close that handle first',
    );
  }
  req.logger.info('resume.waiting', {
    path: req.path,
    reason: 'another session is writing the file',
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), WRITER_WAIT_MS);
  });
  const busy = await Promise.race([fs.usage.whenClosed(key).then(() => false), timedOut]);
  clearTimeout(timer);
  if (busy) {
    throw MiniftpError.busy(
      'resume refused: another session is still writing this file; try again in a moment',
    );
  }
}

/** See UploadTracker.resume. */
export async function resumeUpload(
  records: RecordLookup,
  pool: HashPool,
  fs: ResumableFs,
  req: ResumeRequest,
): Promise<VFile> {
  const { path, offset } = req;
  await waitForOtherWriters(fs, req);
  const file = await fs.open(path, {
    read: true,
    write: true,
    append: false,
    create: false,
    truncate: false,
    exclusive: false,
  });
  try {
    const st = await file.stat();
    if (offset > st.size) {
      throw MiniftpError.resumeRefused(
        `the server has ${st.size} bytes of this file, fewer than the ${offset} to resume from`,
      );
    }
    // A digest still being finished for this file after its CLOSE.
    await records.settled(req.user, path);
    const known = await records.current(req.user, path, st);
    const fromLedger = known !== undefined && known.bytes === offset;
    const serverMd5 = fromLedger ? known.md5 : await prefixMd5(file, offset, pool, req);
    const clientHex = req.md5.toString('hex');
    if (serverMd5 !== clientHex) {
      req.logger.warn('resume.refused', {
        path,
        offset,
        client_md5: clientHex,
        server_md5: serverMd5,
      });
      throw MiniftpError.resumeRefused(
        `the first ${offset} bytes on the server differ from your file (MD5 ${serverMd5} on the server, ${clientHex} yours)`,
      );
    }
    if (offset < st.size) await file.truncate(offset);
    req.logger.info('resume.accepted', { path, offset, from_ledger: fromLedger });
    return file;
  } catch (err) {
    await file.close().catch(() => undefined);
    throw err;
  }
}
