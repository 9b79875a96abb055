/**
 * The room left on the server, as statvfs@openssh.com reports it (MiniFTP
 * answers with the user's quota), and the check an upload makes against it.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Ext } from '../sftp/constants';
import { ClientError, NotFoundError } from './errors';
import { formatBytes } from './format';
import type { SftpChannel } from './sftp-channel';

/** Free room on the server, from statvfs@openssh.com (the server reports the quota there). */
export interface RemoteRoom {
  free: number;
  total: number;
}

/** An upload larger than the room left on the server: refused before a byte is sent. */
export class NoRoomError extends ClientError {
  constructor(
    readonly needed: number,
    readonly free: number,
  ) {
    super(
      `not enough room on the server: ${formatBytes(needed)} to send, ${formatBytes(free)} free`,
    );
  }
}

/** Free room and size of the server's filesystem (or quota) holding `p`. */
export async function remoteRoom(sftp: SftpChannel, p: string): Promise<RemoteRoom | undefined> {
  if (!sftp.hasExtension(Ext.STATVFS)) return undefined;
  const r = await sftp.extended(Ext.STATVFS, (w) => w.string(p));
  r.u64(); // f_bsize
  const frsize = r.u64();
  const blocks = r.u64();
  r.u64(); // f_bfree
  const bavail = r.u64();
  return { free: bavail * frsize, total: blocks * frsize };
}

/** Refuses an upload that cannot fit in the room the server reports. */
export async function checkUploadRoom(
  sftp: SftpChannel,
  localPath: string,
  remotePath: string,
): Promise<void> {
  const size = (await fsp.stat(localPath)).size;
  const there = await sftp.stat(remotePath).then(
    (a) => a.size ?? 0,
    (err: unknown) => {
      if (err instanceof NotFoundError) return 0;
      throw err;
    },
  );
  const needed = size - there;
  if (needed <= 0) return;
  const room = await remoteRoom(sftp, path.posix.dirname(remotePath)).catch(() => undefined);
  if (room && room.total > 0 && needed > room.free) throw new NoRoomError(needed, room.free);
}
