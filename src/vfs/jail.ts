/**
 * Maps virtual POSIX paths ("/" = the user's home) onto real paths and refuses
 * anything that would leave the home, through "..", absolute paths or symlinks.
 * What a symlink may point at, and where it may be moved, is link-checks.ts's.
 */
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { MiniftpError, isErrno } from '../errors';
import { withNameLock } from './name-lock';
import { MAX_DEPTH, depthOf, normalizeVirtual } from './virtual-path';

export {
  MAX_DEPTH,
  MAX_MOVE_SCAN,
  MAX_NAME_BYTES,
  MAX_PATH_BYTES,
  normalizeVirtual,
  virtualBasename,
  virtualDirname,
} from './virtual-path';

/*
 * The lookups on the path of a usual request are synchronous: on a local disk
 * they take a microsecond or two, while a round trip through libuv's thread
 * pool costs tens of microseconds, and OpenSSH's sftp waits for each OPEN and
 * CLOSE of a `put -r`/`get -r` in turn, so that latency is paid once per file.
 *
 * A lookup's cost grows with the depth of the path, though (the kernel walks
 * every component of every path it is given), and nothing else runs while the
 * event loop waits for one: so only paths at most SYNC_DEPTH deep and free of
 * symlinks are looked up synchronously, which bounds what one request can
 * take from every other user. The rest go to the thread pool, where the real
 * path of a directory is found in one walk: the directory is opened (O_PATH:
 * no permission needed, nothing done to it) and the kernel says where the
 * descriptor is (/proc/self/fd/N), as for `holds`.
 */
export const SYNC_DEPTH = 8;

/** Linux's O_PATH: a descriptor that names a file without opening it for reading or writing. */
export const O_PATH = 0o10000000;

const onLinux = process.platform === 'linux';

/** The name of what an O_PATH descriptor refers to, that the kernel cannot redirect. */
export function fdName(fd: number): string {
  return `/proc/self/fd/${fd}`;
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

  /**
   * Whether the file an open descriptor refers to is inside the jail, by the
   * kernel's own account of where it is (/proc/self/fd): a path checked, then
   * redirected by a swap of any of its components before it was opened,
   * shows here. Linux only; elsewhere the check before opening must do.
   */
  holds(fd: number): boolean {
    if (process.platform !== 'linux') return true;
    try {
      return this.contains(fs.readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      return false;
    }
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
    if (depthOf(v) <= SYNC_DEPTH) {
      const plain = this.plainPath(v, options.followLast);
      if (plain !== undefined) return plain;
    }
    const lexical = this.root + v;
    if (options.followLast) {
      try {
        return await this.realInside(lexical, 0);
      } catch (err) {
        if (!isErrno(err) || err.code !== 'ENOENT') throw err;
        // Missing target: fall through and check the parent, so that a
        // dangling symlink pointing outside is still refused below.
        const st = await fsp.lstat(lexical).catch(() => undefined);
        if (st?.isSymbolicLink()) {
          const dest = await this.follow(
            await this.realInside(path.dirname(lexical), fs.constants.O_DIRECTORY),
            await fsp.readlink(lexical),
          );
          const parent = await this.realInside(path.dirname(dest), fs.constants.O_DIRECTORY);
          return path.join(parent, path.basename(dest));
        }
      }
    }
    const parent = await this.realInside(path.dirname(lexical), fs.constants.O_DIRECTORY);
    return path.join(parent, path.basename(lexical));
  }

  /**
   * Whether a real path is shallow enough to be looked up synchronously (see
   * SYNC_DEPTH): its walk by the kernel is then provably short.
   */
  shallow(real: string): boolean {
    return depthOf(real.slice(this.root.length) || '/') <= SYNC_DEPTH;
  }

  /**
   * Refuses a new directory at `real` deeper than MAX_DEPTH: a path reached
   * through a symlinked directory is shallower than where it really leads.
   */
  checkDepth(real: string): void {
    if (depthOf(this.toVirtual(real)) > MAX_DEPTH) {
      throw MiniftpError.invalid(`too deep (at most ${MAX_DEPTH} levels below the home)`);
    }
  }

  /**
   * The usual case, cheaply: when no component below the root is a symlink,
   * the real path is the lexical one. One lstat per component below the root,
   * where realpath() reads every component from "/" (twice for a file that
   * does not exist yet, once for the file and once for its parent). Undefined
   * when a symlink, a missing directory or anything else unusual is met: then
   * the full resolution below decides, errors included.
   */
  private plainPath(v: string, followLast: boolean): string | undefined {
    const parts = v.split('/');
    let current = this.root;
    for (let i = 1; i < parts.length; i++) {
      current += path.sep + (parts[i] as string);
      const last = i === parts.length - 1;
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(current, { throwIfNoEntry: false });
      } catch {
        return undefined;
      }
      if (!st) return last ? current : undefined;
      if (st.isSymbolicLink()) return last && !followLast ? current : undefined;
      if (!last && !st.isDirectory()) return undefined;
    }
    return current;
  }

  /**
   * Where `target` leads from the real directory `dir`, resolved as the kernel
   * would (each symlink followed before a later ".." applies), except that a
   * missing tail is taken literally instead of failing. Used for dangling
   * links and by link-checks.ts for symlinks new and moved, where realpath()
   * alone cannot answer.
   */
  async follow(dir: string, target: string, budget = { hops: 40 }): Promise<string> {
    let current = path.isAbsolute(target) ? '/' : dir;
    const parts = target.split('/');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        current = path.dirname(current);
        continue;
      }
      const next = path.join(current, part);
      const st = await fsp.lstat(next).catch((err: unknown) => {
        if (isErrno(err) && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) return undefined;
        throw err;
      });
      if (!st) return path.resolve(next, ...parts.slice(i + 1));
      if (st.isSymbolicLink()) {
        if (--budget.hops < 0) throw MiniftpError.permission('too many levels of symbolic links');
        current = await this.follow(current, await fsp.readlink(next), budget);
      } else {
        current = next;
      }
    }
    return current;
  }

  /**
   * The real path of `p` (every symlink followed), found by the kernel in one
   * walk on the thread pool: `flags` O_DIRECTORY to require a directory.
   */
  private async kernelPath(p: string, flags: number): Promise<string> {
    if (!onLinux) return fsp.realpath(p);
    const fh = await fsp.open(p, O_PATH | flags);
    try {
      const real = await fsp.readlink(fdName(fh.fd));
      // How /proc shows a directory or file removed since; a name may end so too.
      if (real.endsWith(' (deleted)') && (await fh.stat()).nlink === 0) {
        throw MiniftpError.notFound();
      }
      return real;
    } finally {
      await fh.close();
    }
  }

  /** kernelPath, refused when it is not inside the jail. */
  private async realInside(p: string, flags: number): Promise<string> {
    const real = await this.kernelPath(p, flags);
    if (!this.contains(real)) throw MiniftpError.permission();
    return real;
  }

  /**
   * Runs `op` on a name for `real` (a path whose directory is resolved, as
   * `resolve` gives) that leads into that very directory whatever happens to
   * the path meanwhile: /proc/self/fd/N/<name>, N a descriptor of the
   * directory, opened without following a final symlink and checked to be
   * inside the jail. A directory above swapped for a symlink, or the
   * directory itself, cannot then send a change (create, remove, rename,
   * link) elsewhere. Elsewhere than on Linux, `real` itself.
   */
  async inDir<T>(real: string, op: (name: string) => Promise<T>): Promise<T> {
    if (!onLinux) return op(real);
    const flags = O_PATH | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;
    const fh = await fsp.open(path.dirname(real), flags);
    try {
      if (!this.holds(fh.fd)) throw MiniftpError.permission();
      return await op(`${fdName(fh.fd)}/${path.basename(real)}`);
    } finally {
      await fh.close();
    }
  }

  /** `inDir`, synchronously, for OPEN's fast path (see SYNC_DEPTH). */
  inDirSync<T>(real: string, op: (name: string) => T): T {
    if (!onLinux) return op(real);
    const flags = O_PATH | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;
    const fd = fs.openSync(path.dirname(real), flags);
    try {
      if (!this.holds(fd)) throw MiniftpError.permission();
      return op(`${fdName(fd)}/${path.basename(real)}`);
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Runs `op`, a request that changes names in the home, after every such
   * request of this user that came before it (in any of the user's
   * sessions) has finished: see name-lock.ts.
   */
  changing<T>(op: () => Promise<T>): Promise<T> {
    return withNameLock(this.root, op);
  }

  /**
   * The virtual path REALPATH answers: symlinks resolved where they exist and
   * stay inside; otherwise the lexical path, so nothing outside is revealed.
   * As realpath(3) and OpenSSH's sftp-server: a missing (or non-directory)
   * component before the last is NO_SUCH_FILE; a missing last one is fine.
   */
  async realVirtual(virtual: string): Promise<string> {
    const v = normalizeVirtual(virtual);
    if (v === '/') return v;
    // Plain all along (the last name may be missing): the path itself.
    if (depthOf(v) <= SYNC_DEPTH && this.plainPath(v, true) !== undefined) return v;
    const lexical = this.root + v;
    let parent: string;
    try {
      parent = await this.kernelPath(path.dirname(lexical), fs.constants.O_DIRECTORY);
    } catch (err) {
      if (isErrno(err) && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) {
        throw MiniftpError.notFound();
      }
      throw err;
    }
    if (!this.contains(parent)) return v;
    const real = await this.kernelPath(lexical, 0).catch(() => undefined);
    if (real === undefined) return this.toVirtual(path.join(parent, path.basename(lexical)));
    return this.contains(real) ? this.toVirtual(real) : v;
  }
}
