/**
 * A user's whole filesystem as SFTP sees it: the home, with the shared
 * folders granted to the user mounted in it and the account's per-path
 * permissions applied (permissions.ts). Each request is checked against the
 * mode where its path lies, then routed to the jailed tree the path is in
 * (jailed-fs.ts: the home, or one folder). Nothing moves between two trees:
 * a rename or a link across them is refused, and a symlink cannot lead from
 * one into another. The view is asked for on every request, so a grant given
 * or revoked applies to open sessions at once.
 */
import type * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { MiniftpError, isErrno } from '../errors';
import type { UserQuota } from '../quota/quota-ledger';
import type { DirEntry } from './dir-listing';
import { JailedFs, type ListingView } from './jailed-fs';
import type { UserFsOptions as TreeOptions } from './fs-context';
import { Jail, normalizeVirtual, virtualBasename, virtualDirname } from './jail';
import {
  EMPTY_VIEW,
  denied,
  governing,
  mountOf,
  restrictedBelow,
  type AccessSource,
  type AccessView,
  type FolderFiles,
  type FolderMount,
  type Governing,
} from './permissions';
import type { FileAttrs, OpenRequest, StatvfsInfo } from './types';
import type { VFile } from './vfile';
import type { DirListing } from './dir-listing';

export { fileKey, onChecked } from './checked-change';
export type { DirEntry };
export type { FileAttrs, OpenRequest, StatvfsInfo } from './types';

export interface UserFsOptions extends TreeOptions {
  /** The user's shared folders and per-path permissions. None: the home alone, all of it writable. */
  access?: AccessSource;
}

/** A path of the user's view, and the tree it lies in. */
interface Located {
  /** Normalised, as the user sees it. */
  readonly vpath: string;
  readonly part: JailedFs;
  /** The path below the tree's root. */
  readonly inner: string;
  /** The shared folder it lies in; undefined for the home. */
  readonly mount?: FolderMount;
  readonly view: AccessView;
}

function missing(err: unknown): boolean {
  return (
    (isErrno(err) && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) ||
    (err instanceof MiniftpError && err.kind === 'not-found')
  );
}

const asGoverning = (m: FolderMount): Governing => ({ mode: m.mode, at: m.at });

/** Permission bits a shared folder shows, from its mode: r-x (read), -wx (upload, a drop box), rwx. */
const MODE_BITS: Record<FolderMount['mode'], number> = { read: 0o555, upload: 0o333, write: 0o777 };

/** The folder's directory as the user is shown it: its permission bits say what the grant allows. */
function shownMode(st: fs.Stats, m: FolderMount): fs.Stats {
  st.mode = (st.mode & ~0o7777) | MODE_BITS[m.mode];
  return st;
}

export class UserFs {
  /** The home's jail. */
  readonly jail: Jail;
  /** The home's quota: the user's own. */
  readonly usage: UserQuota;
  private readonly home: JailedFs;
  /** One tree per shared folder mount, made on first use. */
  private readonly parts = new Map<string, JailedFs>();

  constructor(private readonly o: UserFsOptions) {
    this.home = new JailedFs(o);
    this.jail = o.jail;
    this.usage = o.usage;
  }

  /** The user whose filesystem this is. */
  get user(): string {
    return this.o.user ?? this.o.usage.user;
  }

  /** The quota that pays for what is at `virtual`: the user's, or a shared folder's. */
  usageAt(virtual: string): UserQuota {
    return this.locate(virtual).part.usage;
  }

  private view(): AccessView {
    return this.o.access?.view(this.user) ?? EMPTY_VIEW;
  }

  private get files(): FolderFiles {
    const access = this.o.access;
    if (!access) throw MiniftpError.failure('shared folders are not set up');
    return access.files;
  }

  private locate(virtual: string, view = this.view()): Located {
    const vpath = normalizeVirtual(virtual);
    const mount = mountOf(view, vpath);
    if (!mount) return { vpath, part: this.home, inner: vpath, view };
    const inner = vpath === mount.at ? '/' : vpath.slice(mount.at.length);
    return { vpath, part: this.partFor(mount), inner, mount, view };
  }

  private partFor(m: FolderMount): JailedFs {
    const usage = m.usage ?? this.o.usage;
    const key = `${m.at}\0${m.root}`;
    let part = this.parts.get(key);
    // A folder deleted and made again (or charged otherwise) has another quota object.
    if (!part || part.usage !== usage) {
      part = new JailedFs({
        jail: new Jail(m.root),
        usage,
        uploads: this.o.uploads,
        logger: this.o.logger,
        user: this.user,
        at: m.at,
      });
      this.parts.set(key, part);
    }
    return part;
  }

  /** The path the user sees for `inner`, a path of the tree `l` lies in. */
  private shown(l: Located, inner: string): string {
    return l.part.ctx.shown(inner);
  }

  /**
   * The mode at `l`. With per-path permissions set, a symlink may lead
   * elsewhere in the tree: where it really leads counts too, and the
   * stricter of the two holds.
   */
  private async modeAt(l: Located, follow: boolean): Promise<Governing> {
    const g = governing(l.view, l.vpath);
    if (l.view.rules.length === 0 || g.mode !== 'write') return g;
    let real: string;
    try {
      real = follow
        ? await l.part.realpath(l.inner)
        : path.posix.join(await l.part.realpath(virtualDirname(l.inner)), virtualBasename(l.inner));
    } catch {
      return g;
    }
    const shown = this.shown(l, real);
    return shown === l.vpath ? g : governing(l.view, shown);
  }

  /** Refuses unless the user uploaded the file at `l` (in an `upload` folder). */
  private async own(l: Located, g: Governing): Promise<void> {
    if (!l.mount) return; // Everything in the home is the user's own.
    if ((await this.files.uploaderOf(l.mount.folder, l.inner)) !== this.user) {
      throw denied(g, 'not-yours');
    }
  }

  /** A change to the file at `l`: refused where it is read-only, and in a drop box unless it is the user's. */
  private async mayChange(l: Located, g: Governing): Promise<void> {
    if (g.mode === 'read') throw denied(g, 'change');
    if (g.mode === 'upload') await this.own(l, g);
  }

  /** A new directory, link or removal of one: only where the mode is `write`. */
  private mayMake(g: Governing): void {
    if (g.mode === 'read') throw denied(g, 'change');
    if (g.mode === 'upload') throw denied(g, 'upload-files-only');
  }

  /** The folder's own directory is the grant: it is not removed, renamed or changed through it. */
  private notTheFolder(l: Located): void {
    if (l.mount && l.inner === '/') throw denied(asGoverning(l.mount), 'folder-itself');
  }

  private async exists(l: Located): Promise<boolean> {
    try {
      await l.part.lstat(l.inner);
      return true;
    } catch (err) {
      if (missing(err)) return false;
      throw err;
    }
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

  async open(virtual: string, request: OpenRequest): Promise<VFile> {
    const l = this.locate(virtual);
    if (l.mount && l.inner === '/') throw MiniftpError.invalid('is a directory');
    const g = await this.modeAt(l, true);
    const writes = request.write || request.append || request.create || request.truncate;
    if (g.mode === 'read' && writes) throw denied(g, 'change');
    let req = request;
    let fresh = false;
    if (l.mount && (req.create || g.mode === 'upload')) {
      const exists = await this.exists(l);
      if (g.mode === 'upload') {
        if (exists) await this.own(l, g);
        // Made by this open or not at all: never someone else's file created meanwhile.
        else if (req.create) req = { ...req, exclusive: true };
      }
      fresh = !exists && req.create;
    }
    const file = await l.part.open(l.inner, req);
    if (fresh && l.mount) {
      try {
        await this.files.created(l.mount.folder, l.inner, this.user);
      } catch (err) {
        // Unrecorded, the new file would be nobody's: it is taken back, and the upload can be retried.
        await file.close().catch(() => undefined);
        await l.part.remove(l.inner).catch(() => undefined);
        throw err;
      }
    }
    return file;
  }

  async stat(virtual: string): Promise<fs.Stats> {
    const l = this.locate(virtual);
    const g = await this.modeAt(l, true);
    const st = await l.part.stat(l.inner);
    if (g.mode === 'upload' && !st.isDirectory()) await this.own(l, g);
    return l.mount && l.inner === '/' ? shownMode(st, l.mount) : st;
  }

  async lstat(virtual: string): Promise<fs.Stats> {
    const l = this.locate(virtual);
    const g = await this.modeAt(l, false);
    const st = await l.part.lstat(l.inner);
    if (g.mode === 'upload' && !st.isDirectory()) await this.own(l, g);
    return l.mount && l.inner === '/' ? shownMode(st, l.mount) : st;
  }

  /** SETSTAT (follow) and lsetstat@openssh.com (no follow). */
  async setAttrs(virtual: string, attrs: FileAttrs, options: { follow: boolean }): Promise<void> {
    const l = this.locate(virtual);
    this.notTheFolder(l);
    await this.mayChange(l, await this.modeAt(l, options.follow));
    return l.part.setAttrs(l.inner, attrs, options);
  }

  /**
   * OPENDIR. The shared folders mounted in the directory are listed in it
   * (over anything of the same name there); in an `upload` folder only the
   * user's own files (and the directories) are.
   */
  async opendir(virtual: string): Promise<DirListing> {
    const l = this.locate(virtual);
    const g = await this.modeAt(l, true);
    const here = new Map<string, FolderMount>();
    for (const m of l.view.mounts) {
      if (m.at !== l.vpath && virtualDirname(m.at) === l.vpath && mountOf(l.view, m.at) === m) {
        here.set(virtualBasename(m.at), m);
      }
    }
    const dropBox = g.mode === 'upload' ? l.mount : undefined;
    if (here.size === 0 && !dropBox) return l.part.opendir(l.inner);
    const view: ListingView = {
      extra: [...here.keys()],
      entries: async (dirReal, names, plain) => {
        const out: DirEntry[] = [];
        for (const name of names) {
          const m = name.startsWith('/') ? here.get(name.slice(1)) : undefined;
          if (!m) continue;
          const stats = await fsp.lstat(m.root).catch(() => undefined);
          if (stats)
            out.push({
              name: name.slice(1),
              stats: shownMode(stats, m),
              group: `shared:${m.mode}`,
            });
        }
        let own = await plain(names.filter((n) => !n.startsWith('/') && !here.has(n)));
        if (dropBox) own = await this.onlyOwn(dropBox, l.part, dirReal, own);
        return [...out, ...own];
      },
    };
    return l.part.opendir(l.inner, view);
  }

  /** The entries a drop box shows this user: directories, and the files they uploaded. */
  private async onlyOwn(
    m: FolderMount,
    part: JailedFs,
    dirReal: string,
    entries: DirEntry[],
  ): Promise<DirEntry[]> {
    const kept = await Promise.all(
      entries.map(async (e) => {
        if (e.name === '.' || e.name === '..' || e.stats.isDirectory()) return e;
        const inner = part.jail.toVirtual(path.join(dirReal, e.name));
        return (await this.files.uploaderOf(m.folder, inner)) === this.user ? e : undefined;
      }),
    );
    return kept.filter((e): e is DirEntry => e !== undefined);
  }

  async remove(virtual: string): Promise<void> {
    const l = this.locate(virtual);
    this.notTheFolder(l);
    await this.mayChange(l, await this.modeAt(l, false));
    await l.part.remove(l.inner);
    if (l.mount) await this.files.removed(l.mount.folder, l.inner);
  }

  async mkdir(virtual: string, attrs: FileAttrs): Promise<void> {
    const l = this.locate(virtual);
    if (l.mount && l.inner === '/') throw MiniftpError.exists();
    this.mayMake(await this.modeAt(l, false));
    return l.part.mkdir(l.inner, attrs);
  }

  async rmdir(virtual: string): Promise<void> {
    const l = this.locate(virtual);
    this.notTheFolder(l);
    this.mayMake(await this.modeAt(l, false));
    const below = restrictedBelow(l.view, l.vpath);
    if (below) throw denied(below, 'change');
    await l.part.rmdir(l.inner);
    if (l.mount) await this.files.removed(l.mount.folder, l.inner);
  }

  /** Two paths in one tree, or the refusal that names the shared folder between them. */
  private sameTree(a: Located, b: Located): void {
    this.notTheFolder(a);
    this.notTheFolder(b);
    const m = a.mount ?? b.mount;
    if (a.part !== b.part && m) throw denied(asGoverning(a.mount ?? m), 'between');
  }

  /**
   * RENAME (overwrite false: an existing target fails, as draft-02 and
   * OpenSSH's sftp-server do) and posix-rename@openssh.com (overwrite true).
   * Between the home and a shared folder (or two folders) it is refused: the
   * trees may lie on different filesystems and have different quotas.
   */
  async rename(
    fromVirtual: string,
    toVirtual: string,
    options: { overwrite: boolean },
  ): Promise<void> {
    const view = this.view();
    const a = this.locate(fromVirtual, view);
    const b = this.locate(toVirtual, view);
    this.sameTree(a, b);
    const ga = await this.modeAt(a, false);
    const gb = await this.modeAt(b, false);
    await this.mayChange(a, ga);
    if (gb.mode === 'read') throw denied(gb, 'change');
    const replaced = await this.exists(b);
    if (gb.mode === 'upload' && replaced) await this.own(b, gb);
    const below = restrictedBelow(view, a.vpath);
    if (below) throw denied(below, 'change');
    await a.part.rename(a.inner, b.inner, options);
    if (a.mount) {
      if (replaced) await this.files.removed(a.mount.folder, b.inner);
      await this.files.moved(a.mount.folder, a.inner, b.inner);
    }
  }

  /** A symlink: only where the mode is `write`, and leading nowhere but into its own tree. */
  async symlink(linkVirtual: string, target: string): Promise<void> {
    const l = this.locate(linkVirtual);
    if (l.mount && l.inner === '/') throw MiniftpError.exists();
    this.mayMake(await this.modeAt(l, false));
    // Where the target lands, lexically (its own limits are the tree's to check below).
    const landing = path.posix.resolve(virtualDirname(l.vpath), target);
    const tm = mountOf(l.view, landing);
    const t = { part: tm ? this.partFor(tm) : this.home, mount: tm };
    if (t.part !== l.part) {
      const m = l.mount ?? t.mount;
      if (m) throw denied(asGoverning(m), l.mount ? 'link-out' : 'between');
    }
    // An absolute target names a path of the user's view: the tree knows it from its own root.
    const inner = tm ? landing.slice(tm.at.length) || '/' : landing;
    await l.part.symlink(l.inner, target.startsWith('/') ? inner : target);
    if (l.mount) await this.files.created(l.mount.folder, l.inner, this.user);
  }

  async hardlink(fromVirtual: string, toVirtual: string): Promise<void> {
    const view = this.view();
    const a = this.locate(fromVirtual, view);
    const b = this.locate(toVirtual, view);
    this.sameTree(a, b);
    // A new name of a file is a way to change it: the source must be writable too.
    this.mayMake(await this.modeAt(a, false));
    this.mayMake(await this.modeAt(b, false));
    await a.part.hardlink(a.inner, b.inner);
    if (b.mount) await this.files.created(b.mount.folder, b.inner, this.user);
  }

  async realpath(virtual: string): Promise<string> {
    const l = this.locate(virtual);
    return this.shown(l, await l.part.realpath(l.inner));
  }

  async readlink(virtual: string): Promise<string> {
    const l = this.locate(virtual);
    const g = await this.modeAt(l, false);
    if (g.mode === 'upload') await this.own(l, g);
    const target = await l.part.readlink(l.inner);
    return target.startsWith('/') ? this.shown(l, target) : target;
  }

  /** statvfs@openssh.com: the figures of the quota that pays for the path (a shared folder's inside one). */
  statvfs(virtual: string): Promise<StatvfsInfo> {
    const l = this.locate(virtual);
    return l.part.statvfs(l.inner);
  }
}
