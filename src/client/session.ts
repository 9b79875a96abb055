/**
 * The state both front ends share — the local and remote working folders, the
 * SFTP channel and the transfer queue — and the file operations behind the
 * commands and the screen's keys.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClientError, NotFoundError } from './errors';
import { expandGlob, hasGlob } from './glob';
import { isDirAttrs, listLocal, listRemote, type FileEntry } from './listing';
import type { Bookmark, Bookmarks } from './bookmarks';
import type { Link } from './reconnect';
import type { SftpChannel } from './sftp-channel';
import type { TransferJob, TransferQueue } from './transfer-queue';

export interface SessionOptions {
  sftp: SftpChannel;
  queue: TransferQueue;
  localCwd: string;
  /** The remote folder the server starts us in (its REALPATH of "."). */
  remoteHome: string;
}

/**
 * Refuses, before anything is deleted, to remove a folder that holds one of
 * `kept` (the home folder, the current folder): `rm ..`, `rm .`, `rm /` or an
 * empty name would otherwise empty the account, or pull the current folder
 * out from under the session.
 */
function refuseRemoval(
  given: string,
  target: string,
  kept: [home: string, cwd: string],
  paths: path.PlatformPath,
  side: 'local' | 'remote',
): void {
  const holds = (folder: string): boolean => {
    const rel = paths.relative(target, folder);
    const outside = rel === '..' || rel.startsWith(`..${paths.sep}`) || paths.isAbsolute(rel);
    return !outside;
  };
  const [home, cwd] = kept;
  const name = given === '' ? '""' : given;
  if (holds(home)) {
    throw new ClientError(`refusing to delete ${name}: it is or holds your ${side} home folder`);
  }
  if (holds(cwd)) {
    throw new ClientError(
      `refusing to delete ${name}: it is or holds the current ${side} folder (cd elsewhere first)`,
    );
  }
}

/** A file to transfer and where it goes. */
interface Planned {
  localPath: string;
  remotePath: string;
  /** The source's size, known to the folder's planner. */
  size?: number;
}

export class ClientSession {
  /** The current SFTP channel; a reconnection replaces it (see reconnect.ts). */
  sftp: SftpChannel;
  /** Keeps the connection up; set by the front end (tests may leave it out). */
  link: Link | undefined;
  /** The saved hosts (the bookmark command), and where this session is connected. */
  bookmarks: Bookmarks | undefined;
  origin: Bookmark | undefined;
  readonly queue: TransferQueue;
  /** Where the server starts us; changes with the open command. */
  remoteHome: string;
  localCwd: string;
  remoteCwd: string;

  constructor(o: SessionOptions) {
    this.sftp = o.sftp;
    this.queue = o.queue;
    this.localCwd = o.localCwd;
    this.remoteHome = o.remoteHome;
    this.remoteCwd = o.remoteHome;
  }

  /** Works on a new channel from now on: the commands' and the queue's requests go there. */
  attach(sftp: SftpChannel): void {
    this.sftp = sftp;
    this.queue.setChannel(sftp);
  }

  resolveLocal(p: string): string {
    if (p === '~') return os.homedir();
    if (p.startsWith('~/')) return path.join(os.homedir(), p.slice(2));
    return path.resolve(this.localCwd, p);
  }

  resolveRemote(p: string): string {
    if (p === '~') return this.remoteHome;
    if (p.startsWith('~/')) return path.posix.join(this.remoteHome, p.slice(2));
    return path.posix.resolve(this.remoteCwd, p);
  }

  /** The local paths a word names: itself, or what its wildcards match (see glob.ts). */
  expandLocal(word: string): Promise<string[]> {
    if (!hasGlob(word)) return Promise.resolve([word]);
    return expandGlob(word, 'local', (dir) => this.listLocal(this.resolveLocal(dir)));
  }

  /** The remote paths a word names: itself, or what its wildcards match in the server's listing. */
  expandRemote(word: string): Promise<string[]> {
    if (!hasGlob(word)) return Promise.resolve([word]);
    return expandGlob(word, 'remote', (dir) => this.listRemote(this.resolveRemote(dir)));
  }

  // ---- listings and navigation ----------------------------------------------

  listLocal(dir = this.localCwd): Promise<FileEntry[]> {
    return listLocal(dir);
  }

  listRemote(dir = this.remoteCwd): Promise<FileEntry[]> {
    return listRemote(this.sftp, dir);
  }

  async cdRemote(p: string): Promise<void> {
    const target = this.resolveRemote(p);
    const attrs = await this.sftp.stat(target);
    if (!isDirAttrs(attrs)) throw new ClientError(`not a folder: ${p}`);
    this.remoteCwd = target;
  }

  async cdLocal(p: string): Promise<void> {
    const target = this.resolveLocal(p);
    const st = await fsp.stat(target);
    if (!st.isDirectory()) throw new ClientError(`not a folder: ${p}`);
    // Opening it proves we may list it, so the pane will not come up empty.
    await fsp.access(target, fsp.constants.R_OK | fsp.constants.X_OK);
    this.localCwd = target;
  }

  // ---- changes ----------------------------------------------------------------

  mkdirRemote(p: string): Promise<void> {
    return this.sftp.mkdir(this.resolveRemote(p));
  }

  async mkdirLocal(p: string): Promise<void> {
    await fsp.mkdir(this.resolveLocal(p));
  }

  async renameRemote(from: string, to: string): Promise<string> {
    const src = this.resolveRemote(from);
    let dest = this.resolveRemote(to);
    // As mv: an existing folder as the target receives the file.
    if (await this.remoteIsDir(dest)) dest = path.posix.join(dest, path.posix.basename(src));
    await this.sftp.rename(src, dest);
    return dest;
  }

  async renameLocal(from: string, to: string): Promise<void> {
    await fsp.rename(this.resolveLocal(from), this.resolveLocal(to));
  }

  /** Whether a local path is a folder; false when it does not exist. */
  localIsDir(p: string): Promise<boolean> {
    return fsp.stat(p).then(
      (st) => st.isDirectory(),
      () => false,
    );
  }

  /** Whether a remote path is a folder; false when it does not exist. */
  async remoteIsDir(p: string): Promise<boolean> {
    try {
      return isDirAttrs(await this.sftp.stat(p));
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  /**
   * Deletes a remote file, or a folder with everything in it. A folder that
   * is not empty is only deleted when `confirm` agrees. Returns whether it was deleted.
   */
  async removeRemote(p: string, confirm: (question: string) => Promise<boolean>): Promise<boolean> {
    const target = this.resolveRemote(p);
    // Compared where they really are: the current folder may have been reached through a symlink.
    const real = (q: string): Promise<string> => this.sftp.realpath(q).catch(() => q);
    const [realTarget, realCwd] = await Promise.all([real(target), real(this.remoteCwd)]);
    refuseRemoval(p, realTarget, [this.remoteHome, realCwd], path.posix, 'remote');
    const attrs = await this.sftp.lstat(target);
    if (!isDirAttrs(attrs)) {
      await this.sftp.remove(target);
      return true;
    }
    const entries = await this.sftp.list(target);
    if (entries.length > 0) {
      const ok = await confirm(
        `Delete the remote folder ${p} and everything in it (${entries.length} entries)?`,
      );
      if (!ok) return false;
    }
    await this.removeRemoteTree(target);
    return true;
  }

  private async removeRemoteTree(dir: string): Promise<void> {
    for (const e of await this.sftp.list(dir)) {
      const child = path.posix.join(dir, e.filename);
      if (isDirAttrs(e.attrs)) await this.removeRemoteTree(child);
      else await this.sftp.remove(child);
    }
    await this.sftp.rmdir(dir);
  }

  async removeLocal(p: string, confirm: (question: string) => Promise<boolean>): Promise<boolean> {
    const target = this.resolveLocal(p);
    refuseRemoval(p, target, [os.homedir(), this.localCwd], path, 'local');
    const st = await fsp.lstat(target);
    if (!st.isDirectory()) {
      await fsp.unlink(target);
      return true;
    }
    const entries = await fsp.readdir(target);
    if (entries.length > 0) {
      const ok = await confirm(
        `Delete the local folder ${p} and everything in it (${entries.length} entries)?`,
      );
      if (!ok) return false;
    }
    await fsp.rm(target, { recursive: true });
    return true;
  }

  // ---- transfers --------------------------------------------------------------

  /**
   * Queues the upload of a local file or folder (a folder recursively).
   * `target` is a remote folder to put it in, or the remote file name; by
   * default the current remote folder.
   */
  async put(source: string, target: string | undefined, force: boolean): Promise<TransferJob[]> {
    const local = this.resolveLocal(source);
    const st = await fsp.stat(local);
    let remote = this.resolveRemote(target ?? '.');
    if (target === undefined || (await this.remoteIsDir(remote))) {
      remote = path.posix.join(remote, path.basename(local));
    }
    const plan: Planned[] = [];
    if (st.isDirectory()) await this.planPut(local, remote, plan);
    else plan.push({ localPath: local, remotePath: remote });
    return plan.map((p) => this.queue.enqueue({ direction: 'put', force, ...p }));
  }

  private async planPut(local: string, remote: string, plan: Planned[]): Promise<void> {
    if (!(await this.remoteIsDir(remote))) await this.sftp.mkdir(remote);
    for (const e of await listLocal(local)) {
      const l = path.join(local, e.name);
      const r = path.posix.join(remote, e.name);
      if (e.isDir) await this.planPut(l, r, plan);
      else plan.push({ localPath: l, remotePath: r, size: e.size });
    }
  }

  /**
   * Queues the download of a remote file or folder. `target` is a local
   * folder to put it in, or the local file name; by default the current local folder.
   */
  async get(source: string, target: string | undefined, force: boolean): Promise<TransferJob[]> {
    const remote = this.resolveRemote(source);
    const isDir = isDirAttrs(await this.sftp.stat(remote));
    let local = this.resolveLocal(target ?? '.');
    const localIsDir = await fsp.stat(local).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (target === undefined || localIsDir) local = path.join(local, path.posix.basename(remote));
    else if (/[\\/]$/.test(target)) throw new ClientError(`no such local folder: ${target}`);
    const plan: Planned[] = [];
    if (isDir) await this.planGet(remote, local, plan);
    else plan.push({ localPath: local, remotePath: remote });
    return plan.map((p) => this.queue.enqueue({ direction: 'get', force, ...p }));
  }

  private async planGet(remote: string, local: string, plan: Planned[]): Promise<void> {
    await fsp.mkdir(local, { recursive: true });
    for (const e of await listRemote(this.sftp, remote)) {
      const r = path.posix.join(remote, e.name);
      const l = path.join(local, e.name);
      if (e.isDir) await this.planGet(r, l, plan);
      else plan.push({ localPath: l, remotePath: r, size: e.size });
    }
  }
}
