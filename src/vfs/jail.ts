/**
 * Maps virtual POSIX paths ("/" = the user's home) onto real paths and refuses
 * anything that would leave the home, through "..", absolute paths or symlinks.
 */
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { MiniftpError, isErrno } from '../errors';

/** Lexically normalises a virtual path against `/`; ".." never climbs above the root. */
export function normalizeVirtual(p: string, cwd = '/'): string {
  if (p.includes('\0')) throw MiniftpError.permission('path contains a NUL byte');
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

/*
 * The lookups on the path of every request (realpath, lstat) are synchronous:
 * on a local disk they take a microsecond or two, while a round trip through
 * libuv's thread pool costs tens of microseconds, and OpenSSH's sftp waits for
 * each OPEN and CLOSE of a `put -r`/`get -r` in turn, so that latency is paid
 * once per file.
 */
function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
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
    const plain = this.plainPath(v, options.followLast);
    if (plain !== undefined) return plain;
    const lexical = this.root + v;
    if (options.followLast) {
      try {
        const real = fs.realpathSync.native(lexical);
        if (!this.contains(real)) throw MiniftpError.permission();
        return real;
      } catch (err) {
        if (!isErrno(err) || err.code !== 'ENOENT') throw err;
        // Missing target: fall through and check the parent, so that a
        // dangling symlink pointing outside is still refused below.
        const st = lstatOrUndefined(lexical);
        if (st?.isSymbolicLink()) {
          const dest = await this.follow(
            await this.realParent(lexical),
            await fsp.readlink(lexical),
          );
          const parent = await this.realParent(dest);
          return path.join(parent, path.basename(dest));
        }
      }
    }
    const parent = await this.realParent(lexical);
    return path.join(parent, path.basename(lexical));
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
   * links and for new symlinks, where realpath() alone cannot answer.
   */
  private async follow(dir: string, target: string, budget = { hops: 40 }): Promise<string> {
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

  private async realParent(real: string): Promise<string> {
    const parent = fs.realpathSync.native(path.dirname(real));
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
      const real = fs.realpathSync.native(this.root + (v === '/' ? '' : v));
      return this.contains(real) ? this.toVirtual(real) : v;
    } catch {
      return v;
    }
  }

  /**
   * What to store on disk for a symlink at `linkReal` (its directory already
   * resolved, see `resolve`) pointing at `target` as the client wrote it.
   * An absolute target names a virtual path. Targets that lead out of the
   * home are refused, judged from where the link really lands (its directory
   * may be reached through another symlink).
   *
   * A target that goes down from the link's directory is stored relative, so
   * it survives the home being moved. One that climbs (`..`, or an absolute
   * target elsewhere in the home) is stored as the absolute path it leads to:
   * stored relative, it would change meaning when the link or a directory
   * above it is renamed to a shallower place, and could then lead out of the
   * home. Links that only go down can never leave it, however they are
   * moved or combined.
   */
  async symlinkTarget(linkReal: string, target: string): Promise<string> {
    if (target.includes('\0')) throw MiniftpError.permission('path contains a NUL byte');
    const dir = path.dirname(linkReal);
    const relative = target.startsWith('/')
      ? path.relative(dir, this.lexical(target)) || '.'
      : target;
    const dest = await this.follow(dir, relative);
    if (!this.contains(dest)) throw MiniftpError.permission('symlink target is outside your home');
    return climbs(relative) ? dest : relative;
  }

  /**
   * Refuses moving or hard-linking the symlink at `fromReal` to `toReal`
   * when its target climbs (`..`) and would then lead out of the home.
   * MiniFTP never stores such targets (see symlinkTarget), but a link made on
   * disk may have one.
   */
  async checkLinkMove(fromReal: string, toReal: string): Promise<void> {
    const stored = await fsp.readlink(fromReal);
    if (!climbs(stored)) return;
    if (!this.contains(await this.follow(path.dirname(toReal), stored))) {
      throw MiniftpError.permission('moved there, the symlink would point outside your home');
    }
  }

  /**
   * Rewrites the symlink at `linkReal`, if its target climbs (`..`) and leads
   * inside the home, to the absolute path it leads to now, as symlinkTarget
   * stores new links: such a link, made by hand or before that rule, would
   * otherwise point elsewhere once a directory above it is renamed to a
   * shallower place, possibly out of the home. The swap is atomic (a new link
   * renamed over the old). True when rewritten.
   */
  async settleLink(linkReal: string): Promise<boolean> {
    const stored = await fsp.readlink(linkReal);
    if (!climbs(stored)) return false;
    const dest = await this.follow(path.dirname(linkReal), stored);
    if (!this.contains(dest)) return false;
    const temp = `${linkReal}.miniftp-${process.pid}-${Date.now()}`;
    await fsp.symlink(dest, temp);
    try {
      await fsp.rename(temp, linkReal);
    } catch (err) {
      await fsp.unlink(temp).catch(() => undefined);
      throw err;
    }
    return true;
  }

  /**
   * What READLINK shows for a link at `linkReal` whose stored target is
   * `stored`: relative targets as stored, absolute ones as virtual paths.
   * A link leading out of the home (planted on disk) is refused rather than
   * shown, so it reveals nothing about the layout around the home.
   */
  async readlinkTarget(linkReal: string, stored: string): Promise<string> {
    // Going down from the link, it names nothing outside (and a loop need not be followed).
    if (!path.isAbsolute(stored) && !climbs(stored)) return stored;
    const dest = await this.follow(path.dirname(linkReal), stored);
    if (!this.contains(dest)) throw MiniftpError.permission('symlink points outside your home');
    return path.isAbsolute(stored) ? this.toVirtual(path.resolve(stored)) : stored;
  }
}

/** Whether a symlink target is relative and goes up a directory anywhere. */
function climbs(target: string): boolean {
  return !path.isAbsolute(target) && target.split('/').includes('..');
}
