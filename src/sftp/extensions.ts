/**
 * SSH_FXP_EXTENDED requests: a registry of named handlers, and the OpenSSH
 * extensions plus `home-directory` and `copy-data`. More (check-file, resume)
 * are registered by their own modules.
 */
import { MiniftpError } from '../errors';
import type { Logger } from '../log/types';
import { clip } from '../util/clip';
import type { SessionOps } from '../ops/session-ops';
import type { StatvfsInfo, UserFs } from '../vfs/user-fs';
import type { VFile } from '../vfs/vfile';
import type { PacketReader } from './codec';
import { Ext, Status } from './constants';
import { extendedReply, limitsReply, okAfter, singleNamePacket, statusPacket } from './replies';

/** What an extension handler may use of the session it runs in. */
export interface ExtensionContext {
  /** The user's jailed filesystem. */
  readonly fs: UserFs;
  readonly user: string;
  readonly logger: Logger;
  readonly limits: { readonly maxPacket: number; readonly maxHandles: number };
  /** Aborts when the session's channel closes: long work for it (hashing) stops. */
  readonly signal: AbortSignal;
  /** The open file behind a handle string; an `invalid` error for anything else. */
  file(handle: string): VFile;
  /** Gives a file the extension opened a handle in the session, counted as OPEN counts one. */
  adoptFile(file: VFile): string;
  /** True when the session has the file `key` (device:inode) open for writing. */
  writesTo(key: string): boolean;
  /** Metrics and hook events of the session. */
  readonly ops?: SessionOps;
}

/** An EXTENDED request: its id, a reader past the extension's name, and the session's context. */
export interface ExtensionRequest {
  id: number;
  reader: PacketReader;
  session: ExtensionContext;
}

export type ExtensionHandler = (req: ExtensionRequest) => Promise<Buffer>;

export class ExtensionRegistry {
  private readonly handlers = new Map<string, ExtensionHandler>();
  private readonly advertisedList: Array<[string, string]> = [];

  /** `advertise`: the data string sent in VERSION, or undefined to answer without advertising. */
  register(name: string, advertise: string | undefined, handler: ExtensionHandler): this {
    this.handlers.set(name, handler);
    if (advertise !== undefined) this.advertisedList.push([name, advertise]);
    return this;
  }

  advertised(): ReadonlyArray<[string, string]> {
    return this.advertisedList;
  }

  async handle(name: string, req: ExtensionRequest): Promise<Buffer> {
    const handler = this.handlers.get(name);
    if (!handler)
      return statusPacket(req.id, Status.OP_UNSUPPORTED, `unsupported extension ${clip(name)}`);
    return handler(req);
  }
}

function statvfsReply(id: number, s: StatvfsInfo): Buffer {
  return extendedReply(id)
    .u64(s.bsize)
    .u64(s.frsize)
    .u64(s.blocks)
    .u64(s.bfree)
    .u64(s.bavail)
    .u64(s.files)
    .u64(s.ffree)
    .u64(s.favail)
    .u64(s.fsid)
    .u64(s.flag)
    .u64(s.namemax)
    .finish();
}

/** Copies at most this much per read in copy-data, so memory stays bounded. */
const COPY_CHUNK = 256 * 1024;

/** "~", "~/x" and "~me/x" name the home ("/"); other users' homes do not exist here. */
function expandTilde(p: string, user: string): string {
  if (!p.startsWith('~')) return p;
  const slash = p.indexOf('/');
  const who = slash === -1 ? p.slice(1) : p.slice(1, slash);
  if (who !== '' && who !== user) throw MiniftpError.notFound(`no such user home: ${who}`);
  return slash === -1 ? '/' : `/${p.slice(slash + 1)}`;
}

export function registerStandardExtensions(reg: ExtensionRegistry): ExtensionRegistry {
  // posix-rename@openssh.com: string oldpath, string newpath
  reg.register(Ext.POSIX_RENAME, '1', ({ id, reader, session }) => {
    const from = reader.path();
    return okAfter(id, session.fs.rename(from, reader.path(), { overwrite: true }));
  });

  // statvfs@openssh.com: string path
  reg.register(Ext.STATVFS, '2', async ({ id, reader, session }) =>
    statvfsReply(id, await session.fs.statvfs(reader.path())),
  );

  // fstatvfs@openssh.com: string handle
  reg.register(Ext.FSTATVFS, '2', async ({ id, reader, session }) => {
    const file = session.file(reader.string());
    return statvfsReply(id, await session.fs.statvfs(file.virtualPath));
  });

  // hardlink@openssh.com: string oldpath, string newpath
  reg.register(Ext.HARDLINK, '1', ({ id, reader, session }) => {
    const from = reader.path();
    return okAfter(id, session.fs.hardlink(from, reader.path()));
  });

  // fsync@openssh.com: string handle
  reg.register(Ext.FSYNC, '1', ({ id, reader, session }) =>
    okAfter(id, session.file(reader.string()).fsync()),
  );

  // lsetstat@openssh.com: string path, ATTRS attrs
  reg.register(Ext.LSETSTAT, '1', ({ id, reader, session }) => {
    const p = reader.path();
    return okAfter(id, session.fs.setAttrs(p, reader.attrs(), { follow: false }));
  });

  // limits@openssh.com: nothing
  // OpenSSH's sftp reads these to size its requests (255 KiB writes instead of 32 KiB).
  reg.register(Ext.LIMITS, '1', async ({ id, session }) => {
    const { maxPacket, maxHandles } = session.limits;
    return limitsReply(id, maxPacket, maxHandles);
  });

  // expand-path@openssh.com: string path
  reg.register(Ext.EXPAND_PATH, '1', async ({ id, reader, session }) => {
    const p = expandTilde(reader.path(), session.user);
    return singleNamePacket(id, await session.fs.realpath(p));
  });

  // home-directory: string username
  reg.register(Ext.HOME_DIRECTORY, '1', async ({ id, reader, session }) => {
    const who = reader.string();
    if (who !== '' && who !== session.user)
      throw MiniftpError.notFound(`no such user home: ${who}`);
    return singleNamePacket(id, '/');
  });

  // users-groups-by-id@openssh.com: string uids (uint32 each), string gids (uint32 each)
  // Every file a user sees belongs to that user: answer every id with the account name.
  reg.register(Ext.USERS_GROUPS_BY_ID, '1', async ({ id, reader, session }) => {
    const uids = reader.bytes();
    const gids = reader.bytes();
    if (uids.length % 4 !== 0 || gids.length % 4 !== 0)
      throw MiniftpError.badMessage('id list length');
    const w = extendedReply(id);
    for (const count of [uids.length / 4, gids.length / 4]) {
      const names = Buffer.concat(
        Array.from({ length: count }, () => {
          const b = Buffer.from(session.user);
          const len = Buffer.alloc(4);
          len.writeUInt32BE(b.length);
          return Buffer.concat([len, b]);
        }),
      );
      w.bytes(names);
    }
    return w.finish();
  });

  // copy-data: string read-handle, uint64 read-offset, uint64 read-length,
  //            string write-handle, uint64 write-offset
  reg.register(Ext.COPY_DATA, '1', async ({ id, reader, session }) => {
    const readHandle = reader.string();
    const readOffset = reader.u64();
    const length = reader.u64();
    const writeHandle = reader.string();
    const writeOffset = reader.u64();
    const src = session.file(readHandle);
    const dst = session.file(writeHandle);
    if (!src.readable) throw MiniftpError.permission('the source was not opened for reading');
    if (!dst.writable) throw MiniftpError.permission('the destination was not opened for writing');
    const srcSize = (await src.stat()).size;
    const end = length === 0 ? srcSize : Math.min(srcSize, readOffset + length);
    const srcIno = (await src.stat()).ino;
    const dstIno = (await dst.stat()).ino;
    if (srcIno === dstIno && readOffset < writeOffset + (end - readOffset) && writeOffset < end) {
      throw MiniftpError.invalid('copy-data ranges overlap in the same file');
    }
    // The whole copy is checked against the quota before the first byte moves.
    if (end > readOffset) await dst.reserveForWrite(writeOffset, end - readOffset);
    let pos = readOffset;
    const buf = Buffer.allocUnsafe(COPY_CHUNK);
    while (pos < end) {
      const n = await src.read(pos, Math.min(COPY_CHUNK, end - pos), buf, 0);
      if (n === 0) break;
      // A fresh copy: the write may still hold the buffer when the next read starts.
      await dst.write(writeOffset + (pos - readOffset), Buffer.from(buf.subarray(0, n)));
      pos += n;
    }
    return statusPacket(id, Status.OK, 'OK');
  });

  return reg;
}
