/**
 * Changes to the names in a user's home: remove, mkdir, rmdir, rename,
 * symlink and hardlink, each charged to or given back to the quota, logged,
 * and told to the upload tracker when a file is removed, replaced or moved.
 * Each runs after the user's earlier changes to names (see Jail.changing).
 */
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { MiniftpError, isErrno } from '../errors';
import { DIRECTORY_CHARGE, linkCharge, type UserQuota } from '../quota/quota-ledger';
import { MODE_MASK, fileKey } from './checked-change';
import type { FsContext } from './fs-context';
import { normalizeVirtual, type Jail } from './jail';
import { checkDirMove, checkLinkMove, symlinkTarget } from './link-checks';
import type { FileAttrs } from './types';

export class NameChanges {
  private readonly jail: Jail;
  private readonly usage: UserQuota;

  constructor(private readonly ctx: FsContext) {
    this.jail = ctx.jail;
    this.usage = ctx.usage;
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
    this.ctx.uploads?.pathGone(this.ctx.user, this.ctx.shown(vpath));
    this.ctx.logger?.info('file.removed', { path: this.ctx.shown(vpath), bytes: st.size });
  }

  mkdir(virtual: string, attrs: FileAttrs): Promise<void> {
    return this.jail.changing(() => this.mkdirNow(virtual, attrs));
  }

  private async mkdirNow(virtual: string, attrs: FileAttrs): Promise<void> {
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
    this.ctx.logger?.info('dir.created', { path: this.ctx.shown(vpath) });
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
  ): void | Promise<void> {
    return this.ctx.withQuota(() => this.createChargedNow(op, vpath, real, bytes, make));
  }

  private createChargedNow(
    op: string,
    vpath: string,
    real: string,
    bytes: number,
    make: () => void,
  ): void {
    if (fs.lstatSync(real, { throwIfNoEntry: false })) throw MiniftpError.exists();
    this.ctx.checked(op, vpath, () => this.usage.addEntry(bytes));
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
    this.ctx.logger?.info('dir.removed', { path: this.ctx.shown(vpath) });
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
    if (src.isSymbolicLink()) await checkLinkMove(this.jail, realFrom, realTo);
    if (src.isDirectory()) await checkDirMove(this.jail, realFrom, realTo);
    // The same inode under two names (hard links): rename does nothing, nothing to give back.
    const other = dst !== undefined && fileKey(dst) !== fileKey(src);
    const replaced = other ? this.entryCharge(realTo, dst) : undefined;
    await this.jail.inDir(realFrom, (a) => this.jail.inDir(realTo, (b) => fsp.rename(a, b)));
    if (other && dst.isFile()) this.usage.removeName(fileKey(dst), dst.size);
    else if (replaced !== undefined) this.usage.removeEntry(replaced);
    // Even a plain move changes what a running rescan finds where.
    else this.usage.touched();
    const shown = { from: this.ctx.shown(from), to: this.ctx.shown(to) };
    if (dst) this.ctx.uploads?.pathGone(this.ctx.user, shown.to);
    this.ctx.uploads?.pathMoved(this.ctx.user, shown.from, shown.to);
    this.ctx.logger?.info('path.renamed', { ...shown, replaced: dst !== undefined });
  }

  symlink(linkVirtual: string, target: string): Promise<void> {
    return this.jail.changing(() => this.symlinkNow(linkVirtual, target));
  }

  private async symlinkNow(linkVirtual: string, target: string): Promise<void> {
    const link = normalizeVirtual(linkVirtual);
    const real = await this.jail.resolve(link, { followLast: false });
    const stored = await symlinkTarget(this.jail, real, target);
    await this.jail.inDir(real, async (name) =>
      this.createCharged('symlink', link, name, linkCharge(stored, this.jail.root), () =>
        fs.symlinkSync(stored, name),
      ),
    );
    this.ctx.logger?.info('link.created', { path: this.ctx.shown(link), symbolic: true });
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
    if (st.isSymbolicLink()) await checkLinkMove(this.jail, realFrom, realTo);
    if (st.isSymbolicLink()) {
      // A new name of a symlink is charged as a new symlink.
      const bytes = linkCharge(fs.readlinkSync(realFrom), this.jail.root);
      await this.jail.inDir(realFrom, (a) =>
        this.jail.inDir(realTo, async (b) =>
          this.createCharged('hardlink', to, b, bytes, () => fs.linkSync(a, b)),
        ),
      );
      this.ctx.logger?.info('link.created', { path: this.ctx.shown(to), symbolic: false });
      return;
    }
    // A new name of a regular file counts as a file of its size (as a rescan would find).
    const key = fileKey(st);
    if (st.isFile())
      await this.ctx.withQuota(() =>
        this.ctx.checked('hardlink', to, () => this.usage.addName(key, st.size)),
      );
    try {
      await this.jail.inDir(realFrom, (a) => this.jail.inDir(realTo, (b) => fsp.link(a, b)));
    } catch (err) {
      if (st.isFile()) this.usage.removeName(key, st.size);
      throw err;
    }
    this.ctx.logger?.info('link.created', { path: this.ctx.shown(to), symbolic: false });
  }
}
