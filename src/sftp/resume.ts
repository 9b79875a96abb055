/**
 * resume-upload@miniftp: continue an upload only when the bytes already on the
 * server are the client's. Request: string path, uint64 offset N, string MD5
 * (16 raw bytes) of the client's first N bytes. Reply: a write handle on the
 * file cut to N bytes, or FAILURE "resume refused: …" (also logged with both
 * digests).
 */
import { createHash } from 'node:crypto';
import { MiniftpError } from '../errors';
import type { VFile } from '../vfs/vfile';
import { fileKey } from '../vfs/user-fs';
import type { Logger } from '../log/types';
import type { UploadLedger } from '../vfs/upload-ledger';
import type { HashPool } from '../vfs/hash-pool';
import { normalizeVirtual } from '../vfs/jail';
import { Ext } from './constants';
import type { ExtensionContext, ExtensionRegistry } from './extensions';
import { handlePacket } from './replies';

async function prefixMd5(
  file: VFile,
  bytes: number,
  pool: HashPool,
  session: ExtensionContext,
): Promise<string> {
  // A range's length 0 means "to the end"; an empty prefix is simply the MD5 of nothing.
  if (bytes === 0) return createHash('md5').digest('hex');
  // On the hashing pool, charged to the user, dropped if the session's channel closes.
  const [digest] = await pool.digest(file, {
    algorithm: 'md5',
    offset: 0,
    length: bytes,
    blockSize: 0,
    user: session.user,
    signal: session.signal,
  });
  return (digest as Buffer).toString('hex');
}

/** How long a resume waits for a dropped session to finish its last writes. */
const WRITER_WAIT_MS = 15_000;

/**
 * A client that reconnects right after a drop can be faster than the server
 * noticing the drop: the old session may still be finishing writes to this
 * file. Cutting the file under them would mix old and new bytes, so wait.
 */
async function waitForOtherWriters(
  session: ExtensionContext,
  path: string,
  logger: Logger,
): Promise<void> {
  const fs = session.fs;
  const st = await fs.stat(path).catch(() => undefined);
  if (!st) return;
  const key = fileKey(st);
  if (!fs.usage.isOpen(key)) return;
  // Waiting on a handle of our own would only time out: the client must close it first.
  if (session.writesTo(key)) {
    throw new MiniftpError(
      'resume-mismatch',
      'resume refused: this session still has the file open for writing; close that handle first',
    );
  }
  logger.info('resume.waiting', { path, reason: 'another session is writing the file' });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), WRITER_WAIT_MS);
  });
  const busy = await Promise.race([fs.usage.whenClosed(key).then(() => false), timedOut]);
  clearTimeout(timer);
  if (busy) {
    throw new MiniftpError(
      'resume-mismatch',
      'resume refused: another session is still writing this file; try again in a moment',
    );
  }
}

export function registerResume(
  reg: ExtensionRegistry,
  ledger: UploadLedger,
  pool: HashPool,
): ExtensionRegistry {
  reg.register(Ext.RESUME_UPLOAD, '1', async ({ id, reader, session }) => {
    const path = normalizeVirtual(reader.path());
    const offset = reader.u64();
    const clientMd5 = reader.bytes();
    if (clientMd5.length !== 16) throw MiniftpError.badMessage('the MD5 must be 16 raw bytes');
    await waitForOtherWriters(session, path, session.logger);
    const file = await session.fs.open(path, {
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
        throw new MiniftpError(
          'resume-mismatch',
          `resume refused: the server has ${st.size} bytes of this file, fewer than the ${offset} to resume from`,
        );
      }
      // A digest still being finished for this file after its CLOSE.
      await ledger.settled(session.user, path);
      const known = ledger.current(session.user, path, st);
      const serverMd5 =
        known && known.bytes === offset ? known.md5 : await prefixMd5(file, offset, pool, session);
      const fromLedger = known !== undefined && known.bytes === offset;
      const clientHex = clientMd5.toString('hex');
      if (serverMd5 !== clientHex) {
        session.logger.warn('resume.refused', {
          path,
          offset,
          client_md5: clientHex,
          server_md5: serverMd5,
        });
        throw new MiniftpError(
          'resume-mismatch',
          `resume refused: the first ${offset} bytes on the server differ from your file (MD5 ${serverMd5} on the server, ${clientHex} yours)`,
        );
      }
      if (offset < st.size) await file.truncate(offset);
      const handle = session.adoptFile(file);
      session.logger.info('resume.accepted', { path, offset, from_ledger: fromLedger });
      return handlePacket(id, handle);
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
  });
  return reg;
}
