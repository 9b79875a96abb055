/**
 * A user's jailed filesystem: every path operation SFTP needs, on virtual
 * paths, with quota accounting. Throws MiniftpError or Node's errno errors;
 * `src/sftp/status.ts` turns either into a status for the client.
 */
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { MiniftpError, isErrno } from '../errors';
import { DIRECTORY_CHARGE, QuotaExceeded, linkCharge, type UserQuota } from '../quota/quota-ledger';
import type { Logger } from '../log/types';
import { fileTypeOf } from '../util/file-type';
import type { Attrs } from '../sftp/codec';
import { Jail, O_PATH, normalizeVirtual } from './jail';
import { VFile, type WriteObserver } from './vfile';
import { DirListing, LISTING_READ_AHEAD, type DirEntry } from './dir-listing';

const fsFstat = promisify(fs.fstat);
const fsClose = promisify(fs.close);
const fsFtruncate = promisify(fs.ftruncate);
const fsOpen = promisify(fs.open);

export interface OpenRequest {
  read: boolean;
  write: boolean;
  append: boolean;
  create: boolean;
  truncate: boolean;
  exclusive: boolean;
  /** Permissions for a new file (type bits and setuid/setgid/sticky are dropped). */
  mode?: number;
}

export type { DirEntry };

export interface StatvfsInfo {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  fsid: number;
  flag: number;
  namemax: number;
}

export interface UserFsOptions {
  jail: Jail;
  usage: UserQuota;
  /** Creates a write observer for a file opened for writing (the upload ledger). */
  observe?: (
    virtualPath: string,
    file: { truncated: boolean; size: number; fd: number; fdReadable: boolean },
  ) => WriteObserver | undefined;
  /** Called when a path's content is replaced or removed, so upload records can follow. */
  onPathGone?: (virtualPath: string) => void;
  onPathMoved?: (from: string, to: string) => void;
  /**
   * SETSTAT gave a regular file new times, its content untouched (WinSCP sets
   * them after its upload): the upload record can follow the new mtime.
   */
  onTimesSet?: (
    virtualPath: string,
    before: { size: number; mtimeMs: number },
    mtimeMs: number,
  ) => void;
  /** The session's logger: quota refusals and changes to names (remove, rename, mkdir…) go here. */
  logger?: Logger;
}

/** Permission bits a client may set: no setuid, setgid or sticky. */
const MODE_MASK = 0o777;

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

export class UserFs {
  readonly jail: Jail;
  readonly usage: UserQuota;

  constructor(private readonly o: UserFsOptions) {
    this.jail = o.jail;
    this.usage = o.usage;
  }

  /** Opens an existing file read-only (check-file, the hash commands). */
  openForReading(virtual: string): Promise<VFile> {
    return this.open(virtual, {
      read: true,
      write: false,
      append: false,
      create: false,
      truncate: false,
      exclusive: false,
    });
  }

  open(virtual: string, req: OpenRequest): Promise<VFile> {
    // Creating a name is one of the user's changes to names (see Jail.changing).
    if (req.create) return this.jail.changing(() => this.openNow(virtual, req));
    return this.openNow(virtual, req);
  }

  private async openNow(virtual: string, req: OpenRequest): Promise<VFile> {
    const vpath = normalizeVirtual(virtual);
    if (vpath === '/') throw MiniftpError.invalid('cannot open the home directory as a file');
    const real = await this.jail.resolve(vpath, { followLast: true });
    let flags =
      req.read && req.write
        ? fs.constants.O_RDWR
        : req.write
          ? fs.constants.O_WRONLY
          : fs.constants.O_RDONLY;
    if (!req.read && !req.write) flags = fs.constants.O_RDONLY;
    // O_NONBLOCK: opening a FIFO must not hang the server; it is refused below.
    flags |= fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW;
    if (req.append) flags |= fs.constants.O_APPEND;
    const writable = req.write || req.append;
    let created = false;
    // Synchronous, as in Jail.resolve, when that is provably cheap: the lookup
    // then costs less than a thread-pool round trip.
    const sync = this.jail.shallow(real);
    const existing = sync
      ? fs.lstatSync(real, { throwIfNoEntry: false })
      : await fsp.lstat(real).catch((err: unknown) => {
          if (isErrno(err) && err.code === 'ENOENT') return undefined;
          throw err;
        });
    // CREAT and EXCL apply without WRITE too, as in open(2): paramiko's open(name, 'x')
    // sends CREAT|EXCL alone and expects a new, empty file or "already exists".
    if (existing && req.create && req.exclusive) throw MiniftpError.exists();
    // FIFOs, sockets and device nodes are never opened: an open can block (a
    // FIFO) or act on a device. The fstat below catches a swap in between.
    if (existing && !existing.isFile()) {
      throw existing.isDirectory()
        ? MiniftpError.invalid('is a directory')
        : MiniftpError.permission('not a regular file');
    }
    if (!existing && req.create) {
      this.checked('create', vpath, () => this.usage.reserveFile());
      created = true;
      flags |= fs.constants.O_CREAT | fs.constants.O_EXCL;
    }
    let fd: number;
    // A writable handle is opened read-write when the file allows it, so the
    // upload ledger's thread can read the bytes back to hash them (the handle
    // itself still refuses READ unless asked for: VFile checks). O_NOATIME:
    // otherwise every read-back after a write updates atime, and those inode
    // updates contend with the writes in the filesystem's journal.
    let fdReadable = !writable || req.read;
    // A new name is made in the directory that was checked (see Jail.inDir).
    const openReal = (f: number, mode: number): number | Promise<number> => {
      if (sync) {
        return created
          ? this.jail.inDirSync(real, (name) => fs.openSync(name, f, mode))
          : fs.openSync(real, f, mode);
      }
      return created
        ? this.jail.inDir(real, (name) => fsOpen(name, f, mode))
        : fsOpen(real, f, mode);
    };
    try {
      // Synchronous like the lookups above (a FIFO cannot block it: O_NONBLOCK).
      const mode = (req.mode ?? 0o666) & MODE_MASK;
      if (!writable) fd = await openReal(flags, mode);
      else {
        const readWrite =
          (flags & ~fs.constants.O_WRONLY) | fs.constants.O_RDWR | fs.constants.O_NOATIME;
        try {
          fd = await openReal(readWrite, mode);
          fdReadable = true;
        } catch (err) {
          // EACCES: the file is write-only; EPERM: O_NOATIME on a file another user owns.
          if (!isErrno(err) || (err.code !== 'EACCES' && err.code !== 'EPERM')) throw err;
          fd = await openReal(flags, mode);
        }
      }
    } catch (err) {
      if (created) this.usage.releaseFile();
      if (isErrno(err) && err.code === 'ELOOP') throw MiniftpError.permission();
      // A FIFO with no reader (write-only, non-blocking) or a socket that appeared since the lstat.
      if (isErrno(err) && err.code === 'ENXIO') throw MiniftpError.permission('not a regular file');
      // Another session created the file since the lstat above: open what is there.
      if (created && !req.exclusive && isErrno(err) && err.code === 'EEXIST')
        return this.open(vpath, { ...req, create: false });
      throw err;
    }
    let key: string | undefined;
    try {
      // Opened where it was checked, and not through a directory swapped for a symlink since.
      if (!this.jail.holds(fd)) throw MiniftpError.permission();
      const st = fs.fstatSync(fd);
      if (!st.isFile()) {
        throw st.isDirectory()
          ? MiniftpError.invalid('is a directory')
          : MiniftpError.permission('not a regular file');
      }
      if (writable) {
        key = fileKey(st);
        // Registered before truncating, so handles of this file in other
        // sessions see one charged size go to 0.
        this.usage.openFile(key, st.size, st.nlink);
        // A file this open created is normally still empty: no truncate to wait for.
        if (req.truncate && !(created && st.size === 0)) {
          await fsFtruncate(fd, 0);
          this.usage.setSize(key, 0);
        }
      }
      if (writable && (created || req.truncate)) this.o.onPathGone?.(vpath);
      const observer = writable
        ? this.o.observe?.(vpath, {
            truncated: created || req.truncate,
            size: req.truncate ? 0 : st.size,
            fd,
            fdReadable,
          })
        : undefined;
      // Non-blocking mode was only for the open itself.
      return new VFile({
        fd,
        virtualPath: vpath,
        readable: req.read || !writable,
        writable,
        append: req.append,
        usage: this.usage,
        key: key ?? fileKey(st),
        observer,
        onQuotaExceeded: (err, p) => this.logRefusal('write', p, err),
      });
    } catch (err) {
      if (key !== undefined) {
        const now = await fsFstat(fd).catch(() => undefined);
        this.usage.closeFile(key, now);
      }
      await fsClose(fd).catch(() => undefined);
      throw err;
    }
  }

  /** Runs a quota check; a refusal is logged with the path before it reaches the client. */
  private checked<T>(op: string, vpath: string, check: () => T): T {
    try {
      return check();
    } catch (err) {
      if (err instanceof QuotaExceeded) this.logRefusal(op, vpath, err);
      throw err;
    }
  }

  private logRefusal(op: string, vpath: string, err: QuotaExceeded): void {
    this.o.logger?.warn('quota.exceeded', {
      user: this.usage.user,
      op,
      path: vpath,
      attempted: err.attempted,
      used: err.used,
      quota: err.limit,
      unit: err.unit,
    });
  }

  async stat(virtual: string): Promise<fs.Stats> {
    // The path is resolved already: lstat, so a symlink swapped in since is not followed.
    return fsp.lstat(await this.jail.resolve(virtual, { followLast: true }));
  }

  async lstat(virtual: string): Promise<fs.Stats> {
    const real = await this.jail.resolve(virtual, { followLast: false });
    return this.linkSized(real, await fsp.lstat(real));
  }

  /**
   * A symlink's size on disk is the length of its stored target, which for a
   * link stored absolute includes the home's real path: it is given as the
   * length of what READLINK shows instead (0 for a link that leads outside).
   */
  private async linkSized(real: string, st: fs.Stats): Promise<fs.Stats> {
    if (!st.isSymbolicLink()) return st;
    const shown = await fsp
      .readlink(real)
      .then((stored) => this.jail.readlinkTarget(real, stored))
      .catch(() => '');
    st.size = Buffer.byteLength(shown);
    return st;
  }

  /** SETSTAT (follow) and lsetstat@openssh.com (no follow). */
  setAttrs(virtual: string, attrs: Attrs, options: { follow: boolean }): Promise<void> {
    return this.jail.changing(() => this.setAttrsNow(virtual, attrs, options));
  }

  private async setAttrsNow(
    virtual: string,
    attrs: Attrs,
    options: { follow: boolean },
  ): Promise<void> {
    const real = await this.jail.resolve(virtual, { followLast: options.follow });
    const st = await fsp.lstat(real);
    if (attrs.size !== undefined) {
      if (!st.isFile()) throw MiniftpError.invalid('only a regular file has a size to set');
      await this.resize(normalizeVirtual(virtual), real, st, attrs.size);
    }
    if (st.isSymbolicLink()) {
      // Linux cannot chmod a symlink itself; only times apply to it.
      if (attrs.atime !== undefined && attrs.mtime !== undefined)
        await fsp.lutimes(real, attrs.atime, attrs.mtime);
      return;
    }
    const times = attrs.atime !== undefined && attrs.mtime !== undefined;
    if (attrs.permissions === undefined && !times) return;
    await onChecked(this.jail, real, st, async (name) => {
      if (attrs.permissions !== undefined) await fsp.chmod(name, attrs.permissions & MODE_MASK);
      if (attrs.atime !== undefined && attrs.mtime !== undefined) {
        await fsp.utimes(name, attrs.atime, attrs.mtime);
      }
    });
    if (times && st.isFile() && attrs.size === undefined && attrs.mtime !== undefined) {
      // SFTP v3 times are whole seconds, which the kernel stores as given.
      this.o.onTimesSet?.(normalizeVirtual(virtual), st, attrs.mtime * 1000);
    }
  }

  /**
   * SETSTAT size on a path. The file is held open in the ledger meanwhile, so
   * the new size and the writes of any handle open on it share one charge.
   */
  private async resize(vpath: string, real: string, st: fs.Stats, size: number): Promise<void> {
    const key = fileKey(st);
    this.usage.openFile(key, st.size, st.nlink);
    try {
      this.checked('setstat', vpath, () => this.usage.growTo(key, size));
      await onChecked(this.jail, real, st, (name) => fsp.truncate(name, size));
      this.usage.setSize(key, size);
    } finally {
      const now = await fsp.lstat(real).catch(() => undefined);
      this.usage.closeFile(key, now && fileKey(now) === key ? now : undefined);
    }
  }

  /**
   * Opens a directory for listing (OPENDIR). The listing reads the directory
   * a batch at a time through the descriptor it holds, which was opened
   * through the checked directory (see onChecked).
   */
  async opendir(virtual: string): Promise<DirListing> {
    const real = await this.jail.resolve(virtual, { followLast: true });
    const st = await fsp.lstat(real);
    if (!st.isDirectory()) throw MiniftpError.invalid('not a directory');
    const opened: { dir?: fs.Dir } = {};
    try {
      await onChecked(this.jail, real, st, async (name) => {
        opened.dir = await fsp.opendir(name, { bufferSize: LISTING_READ_AHEAD });
      });
    } catch (err) {
      await opened.dir?.close().catch(() => undefined);
      throw err;
    }
    const dir = opened.dir;
    if (!dir) throw MiniftpError.failure('the directory could not be opened');
    return new DirListing(dir, (names) => this.statEntries(real, names));
  }

  /** lstat of entries of the directory `dirReal`; entries gone in between are skipped. */
  async statEntries(dirReal: string, names: string[]): Promise<DirEntry[]> {
    const out = await Promise.all(
      names.map(async (name) => {
        // The home's ".." is the home itself: the directory above it is not the user's to see.
        const real =
          name === '..' && dirReal === this.jail.root ? dirReal : path.join(dirReal, name);
        const stats = await fsp.lstat(real).catch(() => undefined);
        return stats ? { name, stats: await this.linkSized(real, stats) } : undefined;
      }),
    );
    return out.filter((e): e is DirEntry => e !== undefined);
  }

  remove(virtual: string): Promise<void> {
    return this.jail.changing(() => this.removeNow(virtual));
  }

  private async removeNow(virtual: string): Promise<void> {
    const vpath = normalizeVirtual(virtual);
    if (vpath === '/') throw MiniftpError.permission();
    const real = await this.jail.resolve(vpath, { followLast: false });
    const st = await fsp.lstat(real);
    if (st.isDirectory()) throw MiniftpError.invalid('is a directory (use rmdir)');
    await this.jail.inDir(real, async (name) => {
      if (st.isSymbolicLink()) this.removeLink(name);
      else await fsp.unlink(name);
    });
    if (st.isFile()) this.usage.removeName(fileKey(st), st.size);
    else if (!st.isSymbolicLink()) this.usage.touched();
    this.o.onPathGone?.(vpath);
    this.o.logger?.info('file.removed', { path: vpath, bytes: st.size });
  }

  mkdir(virtual: string, attrs: Attrs): Promise<void> {
    return this.jail.changing(() => this.mkdirNow(virtual, attrs));
  }

  private async mkdirNow(virtual: string, attrs: Attrs): Promise<void> {
    const vpath = normalizeVirtual(virtual);
    if (vpath === '/') throw MiniftpError.exists();
    const real = await this.jail.resolve(vpath, { followLast: false });
    this.jail.checkDepth(real);
    const mode = (attrs.permissions ?? 0o777) & MODE_MASK;
    await this.jail.inDir(real, async (name) =>
      this.createCharged('mkdir', vpath, name, DIRECTORY_CHARGE, () =>
        fs.mkdirSync(name, { mode }),
      ),
    );
    this.o.logger?.info('dir.created', { path: vpath });
  }

  /**
   * Makes a directory or symlink charged `bytes`: reserved, then made
   * synchronously in the same turn (see user-usage.ts), given back if that
   * fails. An existing name is EXISTS, even for a user at the quota.
   */
  private createCharged(
    op: string,
    vpath: string,
    real: string,
    bytes: number,
    make: () => void,
  ): void {
    if (fs.lstatSync(real, { throwIfNoEntry: false })) throw MiniftpError.exists();
    this.checked(op, vpath, () => this.usage.addEntry(bytes));
    try {
      make();
    } catch (err) {
      this.usage.removeEntry(bytes);
      throw err;
    }
  }

  /** The charge of the directory or symlink at `real` (`st` its lstat); undefined for anything else. */
  private entryCharge(real: string, st: fs.Stats): number | undefined {
    if (st.isDirectory()) return DIRECTORY_CHARGE;
    if (!st.isSymbolicLink()) return undefined;
    try {
      return linkCharge(fs.readlinkSync(real), this.jail.root);
    } catch {
      return undefined;
    }
  }

  /** Removes the symlink at `real` and gives its charge back, in one turn (see user-usage.ts). */
  private removeLink(real: string): void {
    const bytes = linkCharge(fs.readlinkSync(real), this.jail.root);
    fs.unlinkSync(real);
    this.usage.removeEntry(bytes);
  }

  rmdir(virtual: string): Promise<void> {
    return this.jail.changing(() => this.rmdirNow(virtual));
  }

  private async rmdirNow(virtual: string): Promise<void> {
    const vpath = normalizeVirtual(virtual);
    if (vpath === '/') throw MiniftpError.permission('cannot remove your home directory');
    const real = await this.jail.resolve(vpath, { followLast: false });
    await this.jail.inDir(real, async (name) => {
      // Synchronous, released in the same turn (see user-usage.ts).
      fs.rmdirSync(name);
      this.usage.removeEntry(DIRECTORY_CHARGE);
    });
    this.o.logger?.info('dir.removed', { path: vpath });
  }

  async realpath(virtual: string): Promise<string> {
    return this.jail.realVirtual(virtual);
  }

  /**
   * RENAME (overwrite false: an existing target fails, as draft-02 and
   * OpenSSH's sftp-server do) and posix-rename@openssh.com (overwrite true).
   */
  rename(fromVirtual: string, toVirtual: string, options: { overwrite: boolean }): Promise<void> {
    return this.jail.changing(() => this.renameNow(fromVirtual, toVirtual, options));
  }

  private async renameNow(
    fromVirtual: string,
    toVirtual: string,
    options: { overwrite: boolean },
  ): Promise<void> {
    const from = normalizeVirtual(fromVirtual);
    const to = normalizeVirtual(toVirtual);
    if (from === '/' || to === '/') throw MiniftpError.permission();
    const realFrom = await this.jail.resolve(from, { followLast: false });
    const realTo = await this.jail.resolve(to, { followLast: false });
    const src = await fsp.lstat(realFrom);
    const dst = await fsp.lstat(realTo).catch((err: unknown) => {
      if (isErrno(err) && err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (dst && !options.overwrite) throw MiniftpError.exists();
    if (realFrom === realTo) return;
    if (src.isDirectory() && (realTo + path.sep).startsWith(realFrom + path.sep)) {
      throw MiniftpError.invalid('cannot move a directory into itself');
    }
    if (src.isSymbolicLink()) await this.jail.checkLinkMove(realFrom, realTo);
    if (src.isDirectory()) await this.jail.checkDirMove(realFrom, realTo);
    // The same inode under two names (hard links): rename does nothing, nothing to give back.
    const other = dst !== undefined && fileKey(dst) !== fileKey(src);
    const replaced = other ? this.entryCharge(realTo, dst) : undefined;
    await this.jail.inDir(realFrom, (a) => this.jail.inDir(realTo, (b) => fsp.rename(a, b)));
    if (other && dst.isFile()) this.usage.removeName(fileKey(dst), dst.size);
    else if (replaced !== undefined) this.usage.removeEntry(replaced);
    // Even a plain move changes what a running rescan finds where.
    else this.usage.touched();
    if (dst) this.o.onPathGone?.(to);
    this.o.onPathMoved?.(from, to);
    this.o.logger?.info('path.renamed', { from, to, replaced: dst !== undefined });
  }

  async readlink(virtual: string): Promise<string> {
    const real = await this.jail.resolve(virtual, { followLast: false });
    const target = await fsp.readlink(real);
    return await this.jail.readlinkTarget(real, target);
  }

  symlink(linkVirtual: string, target: string): Promise<void> {
    return this.jail.changing(() => this.symlinkNow(linkVirtual, target));
  }

  private async symlinkNow(linkVirtual: string, target: string): Promise<void> {
    const link = normalizeVirtual(linkVirtual);
    const real = await this.jail.resolve(link, { followLast: false });
    const stored = await this.jail.symlinkTarget(real, target);
    await this.jail.inDir(real, async (name) =>
      this.createCharged('symlink', link, name, linkCharge(stored, this.jail.root), () =>
        fs.symlinkSync(stored, name),
      ),
    );
    this.o.logger?.info('link.created', { path: link, symbolic: true });
  }

  hardlink(fromVirtual: string, toVirtual: string): Promise<void> {
    return this.jail.changing(() => this.hardlinkNow(fromVirtual, toVirtual));
  }

  private async hardlinkNow(fromVirtual: string, toVirtual: string): Promise<void> {
    const to = normalizeVirtual(toVirtual);
    const realFrom = await this.jail.resolve(fromVirtual, { followLast: false });
    const realTo = await this.jail.resolve(to, { followLast: false });
    const st = await fsp.lstat(realFrom);
    if (st.isDirectory()) throw MiniftpError.permission('cannot hard-link a directory');
    if (st.isSymbolicLink()) await this.jail.checkLinkMove(realFrom, realTo);
    if (st.isSymbolicLink()) {
      // A new name of a symlink is charged as a new symlink.
      const bytes = linkCharge(fs.readlinkSync(realFrom), this.jail.root);
      await this.jail.inDir(realFrom, (a) =>
        this.jail.inDir(realTo, async (b) =>
          this.createCharged('hardlink', to, b, bytes, () => fs.linkSync(a, b)),
        ),
      );
      this.o.logger?.info('link.created', { path: to, symbolic: false });
      return;
    }
    // A new name of a regular file counts as a file of its size (as a rescan would find).
    const key = fileKey(st);
    if (st.isFile()) this.checked('hardlink', to, () => this.usage.addName(key, st.size));
    try {
      await this.jail.inDir(realFrom, (a) => this.jail.inDir(realTo, (b) => fsp.link(a, b)));
    } catch (err) {
      if (st.isFile()) this.usage.removeName(key, st.size);
      throw err;
    }
    this.o.logger?.info('link.created', { path: to, symbolic: false });
  }

  /**
   * statvfs@openssh.com: with a quota, the filesystem looks as large as the
   * quota and as full as the usage (so `df` shows them); unlimited users see the disk.
   */
  async statvfs(virtual: string): Promise<StatvfsInfo> {
    const real = await this.jail.resolve(virtual, { followLast: true });
    const s = await fsp.statfs(real);
    const info: StatvfsInfo = {
      bsize: s.bsize,
      frsize: s.bsize,
      blocks: s.blocks,
      bfree: s.bfree,
      bavail: s.bavail,
      files: s.files,
      ffree: s.ffree,
      favail: s.ffree,
      fsid: 0,
      flag: 0x2,
      namemax: 255,
    };
    const { bytes: quota, files: fileQuota } = this.usage.limits;
    if (quota > 0) {
      const bs = info.frsize;
      const diskFree = s.bavail * s.bsize;
      info.blocks = Math.ceil(quota / bs);
      const free = Math.max(0, Math.min(quota - this.usage.bytes, diskFree));
      info.bfree = Math.floor(free / bs);
      info.bavail = info.bfree;
    }
    if (fileQuota > 0) {
      info.files = fileQuota;
      info.ffree = Math.max(0, fileQuota - this.usage.files);
      info.favail = info.ffree;
    }
    return info;
  }
}
