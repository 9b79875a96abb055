/**
 * resume-upload@miniftp: continue an upload only when the bytes already on the
 * server are the client's. Request: string path, uint64 offset N, string MD5
 * (16 raw bytes) of the client's first N bytes. Reply: a write handle on the
 * file cut to N bytes, or FAILURE "resume refused: …" (also logged with both
 * digests). The policy is the upload tracker's (src/uploads/resume.ts).
 */
import { MiniftpError } from '../errors';
import type { UploadTracker } from '../vfs/upload-tracker';
import type { VFile } from '../vfs/vfile';
import { normalizeVirtual } from '../vfs/jail';
import { Ext } from './constants';
import type { ExtensionRegistry } from './extensions';
import { handlePacket } from './replies';

export function registerResume(reg: ExtensionRegistry, uploads: UploadTracker): ExtensionRegistry {
  reg.register(Ext.RESUME_UPLOAD, '1', async ({ id, reader, session }) => {
    const path = normalizeVirtual(reader.path());
    const offset = reader.u64();
    const md5 = reader.bytes();
    if (md5.length !== 16) throw MiniftpError.badMessage('the MD5 must be 16 raw bytes');
    let file: VFile;
    try {
      file = await uploads.resume(session.fs, {
        user: session.user,
        path,
        offset,
        md5,
        writesTo: (key) => session.writesTo(key),
        signal: session.signal,
        logger: session.logger,
      });
    } catch (err) {
      if (err instanceof MiniftpError && err.kind === 'resume-mismatch')
        await session.ops?.resumed(path, offset, false);
      throw err;
    }
    await session.ops?.resumed(path, offset, true);
    try {
      return handlePacket(id, session.adoptFile(file));
    } catch (err) {
      // No handle left in this session for it (see handle-budget.ts).
      await file.close().catch(() => undefined);
      throw err;
    }
  });
  return reg;
}
