/**
 * check-file (draft-ietf-secsh-filexfer-extensions): digests of a file or a
 * range of it, so clients can verify transfers without downloading.
 *
 * Two reply layouts exist in the wild. `check-file-name` / `check-file-handle`
 * are answered as ProFTPD does (string algorithm, then raw digests), which is
 * what WinSCP reads. paramiko's `SFTPFile.check()` and Apache MINA send a
 * request named plain `check-file` with a handle and expect the reply to start
 * with the string "check-file" before the algorithm.
 *
 * The digests are computed by the hashing pool, off the event loop, charged
 * to the session's user, and dropped when the session's channel closes.
 */
import { createHash } from 'node:crypto';
import { MiniftpError } from '../errors';
import { clip } from '../util/clip';
import { HASH_ALGORITHMS, isHashAlgorithm, type HashAlgorithm } from '../vfs/hashing';
import type { HashPool } from '../vfs/hash-pool';
import type { VFile } from '../vfs/vfile';
import type { UploadTracker } from '../vfs/upload-tracker';
import type { PacketReader } from './codec';
import { Ext } from './constants';
import type { ExtensionRegistry, ExtensionRequest } from './extensions';
import { extendedReply } from './replies';

/** The draft's smallest allowed block size. */
const MIN_BLOCK = 256;
/** A reply's bytes besides the digests: header, id, the names. */
const REPLY_OVERHEAD = 1024;

function pickAlgorithm(list: string): HashAlgorithm {
  for (const name of list.split(',')) {
    const n = name.trim().toLowerCase();
    if (isHashAlgorithm(n)) return n;
  }
  throw MiniftpError.unsupported(
    `no supported hash algorithm in "${clip(list)}" (MiniFTP has ${HASH_ALGORITHMS.join(', ')})`,
  );
}

async function answer(
  req: ExtensionRequest,
  file: VFile,
  r: PacketReader,
  layout: 'proftpd' | 'draft',
  deps: CheckFileDeps,
): Promise<Buffer> {
  const algorithm = pickAlgorithm(r.string());
  const offset = r.u64();
  const length = r.u64();
  const blockSize = r.u32();
  if (blockSize !== 0 && blockSize < MIN_BLOCK) {
    throw MiniftpError.invalid(`block size must be 0 or at least ${MIN_BLOCK}`);
  }
  if (!file.readable) throw MiniftpError.permission('the handle was not opened for reading');
  const known =
    algorithm === 'md5' && offset === 0 && blockSize === 0
      ? await deps.ledger.wholeMd5(req.session.user, file, length)
      : undefined;
  // The reply is one packet: as many digests as the client's packet limit holds.
  const room = req.session.limits.maxPacket - REPLY_OVERHEAD;
  const maxDigests = Math.floor(room / createHash(algorithm).digest().length);
  const digests = known
    ? [known]
    : await deps.pool.digest(file, {
        algorithm,
        offset,
        length,
        blockSize,
        maxDigests,
        user: req.session.user,
        signal: req.session.signal,
      });
  const w = extendedReply(req.id);
  if (layout === 'draft') w.string('check-file');
  w.string(algorithm);
  for (const d of digests) w.raw(d);
  return w.finish();
}

interface CheckFileDeps {
  ledger: UploadTracker;
  pool: HashPool;
}

export function registerCheckFile(
  reg: ExtensionRegistry,
  ledger: UploadTracker,
  pool: HashPool,
): ExtensionRegistry {
  const deps: CheckFileDeps = { ledger, pool };
  // check-file: string handle, string hash-algorithms, uint64 start-offset, uint64 length,
  //             uint32 block-size
  reg.register(Ext.CHECK_FILE, HASH_ALGORITHMS.join(','), (req) => {
    const file = req.session.file(req.reader.string());
    return answer(req, file, req.reader, 'draft', deps);
  });
  // check-file-handle: string handle, then as check-file
  reg.register(Ext.CHECK_FILE_HANDLE, undefined, (req) => {
    const file = req.session.file(req.reader.string());
    return answer(req, file, req.reader, 'proftpd', deps);
  });
  // check-file-name: string filename, then as check-file
  reg.register(Ext.CHECK_FILE_NAME, undefined, async (req) => {
    const file = await req.session.fs.openForReading(req.reader.path());
    try {
      return await answer(req, file, req.reader, 'proftpd', deps);
    } finally {
      await file.close();
    }
  });
  return reg;
}
