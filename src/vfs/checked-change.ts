/**
 * Changes to a file or directory that was checked first: the name used for
 * the change cannot be redirected in between (see onChecked). And fileKey,
 * the identity (device:inode) the quota and the uploads know a file by.
 */
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { MiniftpError } from '../errors';
import { fileTypeOf } from '../util/file-type';
import { O_PATH, type Jail } from './jail';

/** Permission bits a client may set: no setuid, setgid or sticky. */
export const MODE_MASK = 0o777;

/**
 * Runs `op` on the file or directory at `real`, checked to be the one `st`
 * described and to lie inside `jail`, through a name that cannot be
 * redirected: a path that was checked, then swapped (itself or a directory
 * above it) for a symlink before the change, must not lead the change
 * elsewhere. On Linux the name is /proc/self/fd/N of a descriptor opened with
 * O_PATH|O_NOFOLLOW (which needs no read or write permission, so the usual
 * permission rules apply to the change itself).
 */
export async function onChecked(
  jail: Jail,
  real: string,
  st: fs.Stats,
  op: (name: string) => Promise<void>,
): Promise<void> {
  if (!st.isFile() && !st.isDirectory()) throw MiniftpError.permission('not a regular file');
  if (process.platform !== 'linux') return op(real);
  const fh = await fsp.open(real, O_PATH | fs.constants.O_NOFOLLOW);
  try {
    // A symlink swapped in is opened itself (O_NOFOLLOW with O_PATH) and differs
    // here, in type at least: it may have the inode number of the file it replaced.
    const now = await fh.stat();
    if (fileKey(now) !== fileKey(st) || fileTypeOf(now.mode) !== fileTypeOf(st.mode)) {
      throw MiniftpError.notFound();
    }
    if (!jail.holds(fh.fd)) throw MiniftpError.permission();
    await op(`/proc/self/fd/${fh.fd}`);
  } finally {
    await fh.close();
  }
}

export function fileKey(st: fs.Stats): string {
  return `${st.dev}:${st.ino}`;
}
