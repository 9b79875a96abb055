/**
 * `mkdir -p` for directories named in the configuration. Node's own recursive
 * mkdir never returns where a parent exists but refuses new entries (it loops
 * on ENOENT under /proc or /sys), so each missing level is made in turn here.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../errors';

export async function makeDirs(dir: string, mode: number): Promise<void> {
  try {
    await fsp.mkdir(dir, { mode });
    return;
  } catch (err) {
    if (!isErrno(err)) throw err;
    if (err.code === 'EEXIST') {
      if ((await fsp.stat(dir)).isDirectory()) return;
      throw err;
    }
    const parent = path.dirname(dir);
    if (err.code !== 'ENOENT' || parent === dir) throw err;
    await makeDirs(parent, mode);
  }
  // The parent exists now: a second ENOENT is final.
  await fsp.mkdir(dir, { mode });
}
