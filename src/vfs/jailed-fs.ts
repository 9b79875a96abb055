/**
 * One jailed tree (a home, or a shared folder as one user sees it): every
 * path operation SFTP needs, on paths below the jail's root, with quota
 * accounting. A user's whole view is user-fs.ts's, which routes each path
 * to the tree it lies in. Throws MiniftpError or Node's errno errors;
 * `src/sftp/status.ts` turns either into a status for the client. Opening a
 * file is open-file.ts's, changes to names are name-changes.ts's; here are
 * the attributes, listings, links read and the filesystem's figures.
 */
import type * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { MiniftpError } from '../errors';
import type { UserQuota } from '../quota/quota-ledger';
import { MODE_MASK, fileKey, onChecked } from './checked-change';
import { DirListing, LISTING_READ_AHEAD, type DirEntry } from './dir-listing';
import { FsContext, type UserFsOptions } from './fs-context';
import { normalizeVirtual, type Jail } from './jail';
import { readlinkTarget } from './link-checks';
import { NameChanges } from './name-changes';
import { openFile } from './open-file';
import type { FileAttrs, OpenRequest, StatvfsInfo } from './types';
import type { VFile } from './vfile';

/** What a listing shows beyond the directory's own entries (see UserFs.opendir). */
export interface ListingView {
  /** Names listed besides the directory's own, after "." and "..": each read back as "/" + name. */
  readonly extra: readonly string[];
  /** The entries of `names` as shown; `plain` is the usual lstat of them in `dirReal`. */
  entries(
    dirReal: string,
    names: string[],
    plain: (names: string[]) => Promise<DirEntry[]>,
  ): Promise<DirEntry[]>;
}

export class JailedFs {
  readonly jail: Jail;
  readonly usage: UserQuota;
  /** What the tree's parts share (the user, where the tree appears in the user's view). */
  readonly ctx: FsContext;
  private readonly names: NameChanges;

  constructor(o: UserFsOptions) {
    this.ctx = new FsContext(o);
    this.jail = o.jail;
    this.usage = o.usage;
    this.names = new NameChanges(this.ctx);
  }

  open(virtual: string, req: OpenRequest): Promise<VFile> {
    return openFile(this.ctx, virtual, req);
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
      .then((stored) => readlinkTarget(this.jail, real, stored))
      .catch(() => '');
    st.size = Buffer.byteLength(shown);
    return st;
  }

  /** SETSTAT (follow) and lsetstat@openssh.com (no follow). */
  setAttrs(virtual: string, attrs: FileAttrs, options: { follow: boolean }): Promise<void> {
    return this.jail.changing(() => this.setAttrsNow(virtual, attrs, options));
  }

  private async setAttrsNow(
    virtual: string,
    attrs: FileAttrs,
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
      this.ctx.uploads?.timesSet(
        this.ctx.user,
        this.ctx.shown(normalizeVirtual(virtual)),
        st,
        attrs.mtime * 1000,
      );
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
      await this.ctx.withQuota(() =>
        this.ctx.checked('setstat', vpath, () => this.usage.growTo(key, size)),
      );
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
  async opendir(virtual: string, view?: ListingView): Promise<DirListing> {
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
    const plain = (names: string[]): Promise<DirEntry[]> => this.statEntries(real, names);
    if (!view) return new DirListing(dir, plain);
    return new DirListing(dir, (names) => view.entries(real, names, plain), view.extra);
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
    return this.names.remove(virtual);
  }

  mkdir(virtual: string, attrs: FileAttrs): Promise<void> {
    return this.names.mkdir(virtual, attrs);
  }

  rmdir(virtual: string): Promise<void> {
    return this.names.rmdir(virtual);
  }

  /**
   * RENAME (overwrite false: an existing target fails, as draft-02 and
   * OpenSSH's sftp-server do) and posix-rename@openssh.com (overwrite true).
   */
  rename(fromVirtual: string, toVirtual: string, options: { overwrite: boolean }): Promise<void> {
    return this.names.rename(fromVirtual, toVirtual, options);
  }

  symlink(linkVirtual: string, target: string): Promise<void> {
    return this.names.symlink(linkVirtual, target);
  }

  hardlink(fromVirtual: string, toVirtual: string): Promise<void> {
    return this.names.hardlink(fromVirtual, toVirtual);
  }

  async realpath(virtual: string): Promise<string> {
    return this.jail.realVirtual(virtual);
  }

  async readlink(virtual: string): Promise<string> {
    const real = await this.jail.resolve(virtual, { followLast: false });
    const target = await fsp.readlink(real);
    return await readlinkTarget(this.jail, real, target);
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
