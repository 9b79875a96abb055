/**
 * Maps virtual POSIX paths ("/" = the user's home) onto real paths and refuses
 * anything that would leave the home, through "..", absolute paths or symlinks.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { MiniftpError, isErrno } from '../errors';

/** Lexically normalises a virtual path against `/`; ".." never climbs above the root. */
export function normalizeVirtual(p: string, cwd = '/'): string {
  if (p.includes('\0')) throw MiniftpError.badMessage('path contains a NUL byte');
  const joined = p.startsWith('/') ? p : `${cwd}/${p}`;
  const out: string[] = [];
  for (const part of joined.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

export function virtualDirname(v: string): string {
  return path.posix.dirname(v);
}

export function virtualBasename(v: string): string {
  return path.posix.basename(v);
}

export class Jail {
  /** `root` must already be a real (symlink-free) absolute path. */
  constructor(readonly root: string) {}

  /** The real path a normalised virtual path names, without looking at the disk. */
  lexical(virtual: string): string {
    const v = normalizeVirtual(virtual);
    return v === '/' ? this.root : this.root + v;
  }

  /** True when `real` is the root or below it. */
  contains(real: string): boolean {
    return real === this.root || real.startsWith(this.root + path.sep);
  }

  /** The virtual path of a real path inside the jail. */
  toVirtual(real: string): string {
    if (!this.contains(real)) throw MiniftpError.permission();
    const rest = real.slice(this.root.length);
    return rest === '' ? '/' : rest.split(path.sep).join('/');
  }

  /**
   * The real path for an operation on `virtual`. With `followLast` the final
   * component's symlinks are followed too (open, stat); without it only the
   * parent is resolved (lstat, remove, rename, symlink, readlink).
   * A missing final component is fine (create); a missing parent is NO_SUCH_FILE.
   */
  async resolve(virtual: string, options: { followLast: boolean }): Promise<string> {
    const v = normalizeVirtual(virtual);
    if (v === '/') return this.root;
    const lexical = this.root + v;
    if (options.followLast) {
      try {
        const real = await fsp.realpath(lexical);
        if (!this.contains(real)) throw MiniftpError.permission();
        return real;
      } catch (err) {
        if (!isErrno(err) || err.code !== 'ENOENT') throw err;
        // Missing target: fall through and check the parent, so that a
        // dangling symlink pointing outside is still refused below.
        const st = await fsp.lstat(lexical).catch(() => undefined);
        if (st?.isSymbolicLink()) {
          const target = await fsp.readlink(lexical);
          const dest = path.resolve(path.dirname(lexical), target);
          const parent = await this.realParent(dest);
          if (!this.contains(parent)) throw MiniftpError.permission();
          return path.join(parent, path.basename(dest));
        }
      }
    }
    const parent = await this.realParent(lexical);
    return path.join(parent, path.basename(lexical));
  }

  private async realParent(real: string): Promise<string> {
    const parent = await fsp.realpath(path.dirname(real));
    if (!this.contains(parent)) throw MiniftpError.permission();
    return parent;
  }

  /**
   * The virtual path REALPATH answers: symlinks resolved where they exist and
   * stay inside; otherwise the lexical path, so nothing outside is revealed.
   */
  async realVirtual(virtual: string): Promise<string> {
    const v = normalizeVirtual(virtual);
    try {
      const real = await fsp.realpath(this.root + (v === '/' ? '' : v));
      return this.contains(real) ? this.toVirtual(real) : v;
    } catch {
      return v;
    }
  }

  /**
   * What to store on disk for a symlink created at `linkVirtual` pointing at
   * `target` (as the client wrote it): absolute targets are made relative to the
   * link's directory so that the link also resolves inside the home on disk.
   * Targets that would leave the home are refused.
   */
  symlinkTarget(linkVirtual: string, target: string): string {
    if (target.includes('\0')) throw MiniftpError.badMessage('path contains a NUL byte');
    const linkDir = virtualDirname(normalizeVirtual(linkVirtual));
    if (target.startsWith('/')) {
      const dest = normalizeVirtual(target);
      const rel = path.posix.relative(linkDir, dest);
      return rel === '' ? '.' : rel;
    }
    // A relative target must not climb out of the home when resolved from the link's directory.
    let depth = linkDir === '/' ? 0 : linkDir.split('/').length - 1;
    for (const part of target.split('/')) {
      if (part === '' || part === '.') continue;
      depth += part === '..' ? -1 : 1;
      if (depth < 0) throw MiniftpError.permission('symlink target is outside your home');
    }
    return target;
  }

  /** What READLINK shows for a link at `linkReal` whose stored target is `stored`. */
  readlinkTarget(linkReal: string, stored: string): string {
    if (!path.isAbsolute(stored)) return stored;
    const dest = path.resolve(path.dirname(linkReal), stored);
    if (this.contains(dest)) return this.toVirtual(dest);
    throw MiniftpError.permission('symlink points outside your home');
  }
}
