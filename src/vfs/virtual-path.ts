/**
 * Virtual paths ("/" = the user's home): their lexical normal form and the
 * limits on their length and depth, checked before anything looks at the disk.
 */
import * as path from 'node:path';
import { MiniftpError } from '../errors';

/** Longest name of a file or directory, in bytes (the kernel's NAME_MAX). */
export const MAX_NAME_BYTES = 255;
/** Longest virtual path or symlink target, in bytes (the kernel's PATH_MAX). */
export const MAX_PATH_BYTES = 4096;
/** Deepest virtual path: directories below the home, the last name included. */
export const MAX_DEPTH = 128;
/** Entries a directory move looks through for symlinks before it is refused (see checkDirMove). */
export const MAX_MOVE_SCAN = 100_000;

/**
 * Lexically normalises a virtual path against `/`; ".." never climbs above
 * the root. Paths longer or deeper than the limits above, or with a longer
 * name, are refused: the cost of looking a path up grows with its depth, and
 * no directory can be made deeper than a path can name.
 */
export function normalizeVirtual(p: string, cwd = '/'): string {
  if (p.includes('\0')) throw MiniftpError.permission('path contains a NUL byte');
  const joined = p.startsWith('/') ? p : `${cwd}/${p}`;
  const out: string[] = [];
  for (const part of joined.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  checkNames(out, 'path');
  if (out.length > MAX_DEPTH) {
    throw MiniftpError.invalid(`path too deep (at most ${MAX_DEPTH} levels below the home)`);
  }
  return `/${out.join('/')}`;
}

/** Refuses a name over MAX_NAME_BYTES or a whole over MAX_PATH_BYTES. */
export function checkNames(parts: readonly string[], what: 'path' | 'symlink target'): void {
  let bytes = 0;
  for (const part of parts) {
    const n = Buffer.byteLength(part);
    if (n > MAX_NAME_BYTES) {
      throw MiniftpError.invalid(`file name too long (at most ${MAX_NAME_BYTES} bytes)`);
    }
    bytes += n + 1;
  }
  if (bytes > MAX_PATH_BYTES) {
    throw MiniftpError.invalid(`${what} too long (at most ${MAX_PATH_BYTES} bytes)`);
  }
}

/** Directories below the root in a normalised virtual path ("/" has none). */
export function depthOf(v: string): number {
  let n = 0;
  for (let i = v.indexOf('/'); i !== -1; i = v.indexOf('/', i + 1)) n++;
  return v === '/' ? 0 : n;
}

export function virtualDirname(v: string): string {
  return path.posix.dirname(v);
}

export function virtualBasename(v: string): string {
  return path.posix.basename(v);
}
