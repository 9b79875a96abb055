/**
 * OPEN: a file of the user's home opened for reading or writing, created or
 * truncated as asked, charged to the quota, and told to the upload tracker
 * when it is written. On the path of every transfer: synchronous where that
 * is provably cheap (see SYNC_DEPTH in jail.ts).
 */
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { promisify } from 'node:util';
import { MiniftpError, isErrno } from '../errors';
import { MODE_MASK, fileKey } from './checked-change';
import type { FsContext } from './fs-context';
import { normalizeVirtual } from './jail';
import type { OpenRequest } from './types';
import { VFile } from './vfile';

const fsFstat = promisify(fs.fstat);
const fsClose = promisify(fs.close);
const fsFtruncate = promisify(fs.ftruncate);
const fsOpen = promisify(fs.open);

export function openFile(ctx: FsContext, virtual: string, req: OpenRequest): Promise<VFile> {
  // Creating a name is one of the user's changes to names (see Jail.changing).
  if (req.create) return ctx.jail.changing(() => openNow(ctx, virtual, req));
  return openNow(ctx, virtual, req);
}

async function openNow(ctx: FsContext, virtual: string, req: OpenRequest): Promise<VFile> {
  const vpath = normalizeVirtual(virtual);
  if (vpath === '/') throw MiniftpError.invalid('cannot open the home directory as a file');
  const real = await ctx.jail.resolve(vpath, { followLast: true });
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
  const sync = ctx.jail.shallow(real);
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
    const reserving = ctx.withQuota(() =>
      ctx.checked('create', vpath, () => ctx.usage.reserveFile()),
    );
    if (reserving) await reserving;
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
        ? ctx.jail.inDirSync(real, (name) => fs.openSync(name, f, mode))
        : fs.openSync(real, f, mode);
    }
    return created ? ctx.jail.inDir(real, (name) => fsOpen(name, f, mode)) : fsOpen(real, f, mode);
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
    if (created) ctx.usage.releaseFile();
    if (isErrno(err) && err.code === 'ELOOP') throw MiniftpError.permission();
    // A FIFO with no reader (write-only, non-blocking) or a socket that appeared since the lstat.
    if (isErrno(err) && err.code === 'ENXIO') throw MiniftpError.permission('not a regular file');
    // Another session created the file since the lstat above: open what is there.
    if (created && !req.exclusive && isErrno(err) && err.code === 'EEXIST')
      return openFile(ctx, vpath, { ...req, create: false });
    throw err;
  }
  let key: string | undefined;
  try {
    // Opened where it was checked, and not through a directory swapped for a symlink since.
    if (!ctx.jail.holds(fd)) throw MiniftpError.permission();
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
      ctx.usage.openFile(key, st.size, st.nlink);
      // A file this open created is normally still empty: no truncate to wait for.
      if (req.truncate && !(created && st.size === 0)) {
        await fsFtruncate(fd, 0);
        ctx.usage.setSize(key, 0);
      }
    }
    if (writable && (created || req.truncate)) ctx.uploads?.pathGone(ctx.user, ctx.shown(vpath));
    const observer = writable
      ? ctx.uploads?.observe(ctx.user, ctx.shown(vpath), {
          truncated: created || req.truncate,
          size: req.truncate ? 0 : st.size,
          key: key ?? fileKey(st),
          sizeFound: st.size,
          fd,
          fdReadable,
        })
      : undefined;
    // Non-blocking mode was only for the open itself.
    return new VFile({
      fd,
      virtualPath: ctx.shown(vpath),
      readable: req.read || !writable,
      writable,
      append: req.append,
      usage: ctx.usage,
      key: key ?? fileKey(st),
      observer,
      onQuotaExceeded: (err, p) => ctx.logRefusal('write', p, err),
    });
  } catch (err) {
    if (key !== undefined) {
      const now = await fsFstat(fd).catch(() => undefined);
      ctx.usage.closeFile(key, now);
    }
    await fsClose(fd).catch(() => undefined);
    throw err;
  }
}
