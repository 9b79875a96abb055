/**
 * Request type -> handler for one SFTP session: each request's fields are
 * parsed (its wire layout above its parser, after the uint32 length and the
 * byte of type that every packet starts with) and the work is handed to the
 * user's filesystem, the open handles or an extension.
 */
import { MiniftpError, describeError } from '../errors';
import type { Logger } from '../log/types';
import type { DirListing } from '../vfs/dir-listing';
import type { UserFs } from '../vfs/user-fs';
import type { VFile } from '../vfs/vfile';
import type { SessionOps } from '../ops/session-ops';
import { MalformedPacket, type BufferPool, type PacketReader } from './codec';
import { OpenFlag, PacketType, Status } from './constants';
import { attrsFromStats, longName } from './attrs';
import {
  DATA_HEADER,
  attrsPacket,
  fillDataHeader,
  handlePacket,
  namePacket,
  okAfter,
  singleNamePacket,
  statusPacket,
  type NameEntry,
} from './replies';
import { isUnexpected, statusFromError } from './status';
import type { ExtensionContext, ExtensionRegistry } from './extensions';
import { READDIR_MAX_BYTES } from './handle-budget';
import type { Handle, HandleLimits, HandleTable } from './handle-table';
import { waitsForEarlier, type ScheduledRequest } from './request-scheduler';

export interface SftpLimits extends HandleLimits {
  /** Largest packet body accepted (and advertised by limits@openssh.com). */
  maxPacket: number;
  /** Requests running at once before the channel is paused. */
  maxPending: number;
}

/** READs up to this size get an exact buffer: a pooled one would waste the rest of its bytes. */
const POOLED_READ_MIN = 64 * 1024;
/** Names per READDIR reply (OpenSSH's sftp-server sends up to 100). */
const READDIR_BATCH = 100;
/** Room in a NAME reply for its header (length, type, id, count). */
const NAME_HEADER = 13;

export interface DispatcherOptions {
  fs: UserFs;
  user: string;
  logger: Logger;
  limits: SftpLimits;
  extensions: ExtensionRegistry;
  handles: HandleTable;
  /** Transfer buffers: a request's body comes from it, a large READ's reply too. */
  pool: BufferPool;
  /** This client sends SYMLINK's paths link first (see client-quirks.ts). */
  linkPathFirst: boolean;
  /** Aborts when the session's channel closes. */
  signal: AbortSignal;
  /** A request was answered BAD_MESSAGE: nothing after it in the stream can be trusted. */
  onMalformed: (err: MalformedPacket) => void;
  /** Metrics, hook events and the user's bandwidth limits. */
  ops?: SessionOps;
}

/** Request type names for the latency metric. */
const TYPE_NAMES = new Map<number, string>(Object.entries(PacketType).map(([k, v]) => [v, k]));

/** One request between its arrival and its answer, as the scheduler runs it. */
class SftpRequest implements ScheduledRequest {
  readonly barrier: boolean;
  private malformed: MalformedPacket | undefined;

  constructor(
    private readonly dispatcher: RequestDispatcher,
    private readonly type: number,
    private readonly id: number,
    private readonly reader: PacketReader,
    /** The packet from its type byte on; a pooled buffer, given back once answered. */
    private readonly body: Buffer,
    readonly dataBytes: number,
  ) {
    this.barrier = waitsForEarlier(type, body);
  }

  run(): Promise<Buffer> {
    const reply = this.dispatcher.dispatch(this.type, this.id, this.reader);
    this.dispatcher.o.ops?.timeRequest(TYPE_NAMES.get(this.type) ?? 'unknown', reply);
    return reply;
  }

  fail(err: unknown): Buffer {
    if (err instanceof MalformedPacket) this.malformed = err;
    return this.dispatcher.errorReply(this.type, this.id, err);
  }

  internalError(): Buffer {
    return statusPacket(this.id, Status.FAILURE, 'internal error');
  }

  sent(): void {
    // The request is answered, so nothing reads its body any more (a WRITE's
    // data went to disk before its STATUS): the buffer can serve another.
    this.dispatcher.o.pool.release(this.body);
  }

  settled(): void {
    if (this.malformed) this.dispatcher.o.onMalformed(this.malformed);
  }
}

export class RequestDispatcher {
  private readonly fs: UserFs;
  private readonly handles: HandleTable;
  /** What extension handlers may use of this session. */
  private readonly context: ExtensionContext;

  constructor(readonly o: DispatcherOptions) {
    this.fs = o.fs;
    this.handles = o.handles;
    const { handles } = o;
    this.context = {
      fs: o.fs,
      user: o.user,
      logger: o.logger,
      limits: o.limits,
      signal: o.signal,
      file: (handle) => handles.file(handle),
      adoptFile: (file) => handles.adoptFile(file),
      writesTo: (key) => handles.writesTo(key),
      ops: o.ops,
    };
  }

  /** A request read from `body` (type byte first), its id and the reader past the id. */
  request(type: number, id: number, r: PacketReader, body: Buffer): ScheduledRequest {
    return new SftpRequest(this, type, id, r, body, this.dataBytes(type, body));
  }

  /** The memory a request holds until it is answered: a WRITE's body, a READ's reply. */
  private dataBytes(type: number, body: Buffer): number {
    if (type === PacketType.WRITE) return body.length;
    // A READ ends with its uint32 length (anything shorter is refused when parsed).
    if (type === PacketType.READ && body.length >= 9) {
      return Math.min(body.readUInt32BE(body.length - 4), this.o.limits.maxPacket);
    }
    return 0;
  }

  errorReply(type: number, id: number, err: unknown): Buffer {
    const { code, message } = statusFromError(err);
    const fields = { type, error: describeError(err) };
    if (err instanceof MiniftpError && err.kind === 'quota') this.o.ops?.quotaRefused(message);
    if (isUnexpected(err)) this.o.logger.error('sftp.request_failed', fields);
    else this.o.logger.debug('sftp.request_refused', fields);
    return statusPacket(id, code, message);
  }

  /** Runs one request; `r` is past its id. */
  dispatch(type: number, id: number, r: PacketReader): Promise<Buffer> {
    switch (type) {
      case PacketType.OPEN:
        return this.open(id, r);
      case PacketType.CLOSE:
        return this.close(id, r);
      case PacketType.READ:
        return this.read(id, r);
      case PacketType.WRITE:
        return this.write(id, r);
      case PacketType.LSTAT:
        return this.statPath(id, r, false);
      case PacketType.STAT:
        return this.statPath(id, r, true);
      case PacketType.FSTAT:
        return this.fstat(id, r);
      case PacketType.SETSTAT:
        return this.setstat(id, r);
      case PacketType.FSETSTAT:
        return this.fsetstat(id, r);
      case PacketType.OPENDIR:
        return this.opendir(id, r);
      case PacketType.READDIR:
        return this.readdir(id, r);
      case PacketType.REMOVE:
        return this.remove(id, r);
      case PacketType.MKDIR:
        return this.mkdir(id, r);
      case PacketType.RMDIR:
        return this.rmdir(id, r);
      case PacketType.REALPATH:
        return this.realpath(id, r);
      case PacketType.RENAME:
        return this.rename(id, r);
      case PacketType.READLINK:
        return this.readlink(id, r);
      case PacketType.SYMLINK:
        return this.symlink(id, r);
      case PacketType.EXTENDED:
        return this.extended(id, r);
      default:
        return Promise.resolve(
          statusPacket(id, Status.OP_UNSUPPORTED, `unsupported request type ${type}`),
        );
    }
  }

  // OPEN: uint32 id, string filename, uint32 pflags, ATTRS attrs
  private async open(id: number, r: PacketReader): Promise<Buffer> {
    const p = r.path();
    const pflags = r.u32();
    const attrs = r.attrs();
    const read = (pflags & OpenFlag.READ) !== 0;
    const write = (pflags & OpenFlag.WRITE) !== 0;
    const append = (pflags & OpenFlag.APPEND) !== 0;
    const release = this.handles.reserve('file');
    let file: VFile;
    try {
      file = await this.fs.open(p, {
        read,
        write,
        append,
        create: (pflags & OpenFlag.CREAT) !== 0,
        truncate: (pflags & OpenFlag.TRUNC) !== 0,
        exclusive: (pflags & OpenFlag.EXCL) !== 0,
        mode: attrs.permissions,
      });
    } catch (err) {
      release();
      throw err;
    }
    const handle = this.handles.add({ kind: 'file', file, release });
    try {
      if (attrs.atime !== undefined && attrs.mtime !== undefined && file.writable) {
        await file.setAttrs({ atime: attrs.atime, mtime: attrs.mtime });
      }
      return handlePacket(id, handle);
    } catch (err) {
      this.handles.forget(handle);
      await file.close().catch(() => undefined);
      release();
      throw err;
    }
  }

  // CLOSE: uint32 id, string handle
  private async close(id: number, r: PacketReader): Promise<Buffer> {
    const h = this.handles.take(r.string());
    try {
      if (h.kind === 'file') await this.closeFile(h.file, { handOff: true });
      else await h.listing.close();
    } finally {
      h.release();
    }
    return statusPacket(id, Status.OK, 'OK');
  }

  private async closeFile(file: VFile, options: { handOff?: boolean } = {}): Promise<void> {
    const ops = this.o.ops;
    const st =
      ops?.wantsFileEvents && file.writable ? await file.stat().catch(() => undefined) : undefined;
    await file.close(options);
    await ops
      ?.fileClosed({
        path: file.virtualPath,
        writable: file.writable,
        bytesIn: file.bytesWritten,
        bytesOut: file.bytesSent,
        size: st?.size,
        mtimeMs: st?.mtimeMs,
      })
      .catch((err: unknown) =>
        this.o.logger.error('hook.not_recorded', {
          path: file.virtualPath,
          error: describeError(err),
        }),
      );
    if (file.bytesSent > 0 || file.bytesWritten > 0 || file.writable) {
      this.o.logger.info('file.closed', {
        path: file.virtualPath,
        bytes_in: file.bytesWritten,
        bytes_out: file.bytesSent,
        ms: Date.now() - file.openedAt,
      });
    }
  }

  /** Closes every handle still open (the session ends). */
  async closeAll(): Promise<void> {
    const open: Handle[] = this.handles.takeAll();
    for (const h of open) {
      if (h.kind === 'file') await this.closeFile(h.file).catch(() => undefined);
      else await h.listing.close().catch(() => undefined);
      h.release();
    }
  }

  // READ: uint32 id, string handle, uint64 offset, uint32 len
  private async read(id: number, r: PacketReader): Promise<Buffer> {
    const file = this.handles.file(r.string());
    const offset = r.u64OrUndefined();
    const want = Math.min(r.u32(), this.o.limits.maxPacket - 1024);
    if (offset === undefined) {
      if (!file.readable) throw MiniftpError.permission('the file was not opened for reading');
      return statusPacket(id, Status.EOF, 'end of file');
    }
    const { pool } = this.o;
    const pooled = want > POOLED_READ_MIN;
    const buf = pooled ? pool.get() : Buffer.allocUnsafe(DATA_HEADER + want);
    let n: number;
    try {
      n = await file.read(offset, want, buf, DATA_HEADER);
    } catch (err) {
      pool.release(buf);
      throw err;
    }
    if (n === 0 && want > 0) {
      pool.release(buf);
      return statusPacket(id, Status.EOF, 'end of file');
    }
    file.bytesSent += n;
    // The user's download limit: this reply waits; the session's other requests do not.
    await this.o.ops?.sent(n);
    return fillDataHeader(buf, id, n);
  }

  // WRITE: uint32 id, string handle, uint64 offset, string data
  private write(id: number, r: PacketReader): Promise<Buffer> {
    const file = this.handles.file(r.string());
    const offset = r.u64();
    const data = r.bytes();
    // No await before file.write: it must be registered as in flight before a
    // CLOSE that the client pipelined right behind it is handled.
    const written = file.write(offset, data);
    this.o.ops?.transferred(data.length, 0);
    return okAfter(id, written);
  }

  // STAT, LSTAT: uint32 id, string path
  private async statPath(id: number, r: PacketReader, follow: boolean): Promise<Buffer> {
    const p = r.path();
    const st = follow ? await this.fs.stat(p) : await this.fs.lstat(p);
    return attrsPacket(id, attrsFromStats(st));
  }

  // FSTAT: uint32 id, string handle
  private async fstat(id: number, r: PacketReader): Promise<Buffer> {
    const st = await this.handles.file(r.string()).stat();
    return attrsPacket(id, attrsFromStats(st));
  }

  // SETSTAT: uint32 id, string path, ATTRS attrs
  private setstat(id: number, r: PacketReader): Promise<Buffer> {
    const p = r.path();
    return okAfter(id, this.fs.setAttrs(p, r.attrs(), { follow: true }));
  }

  // FSETSTAT: uint32 id, string handle, ATTRS attrs
  private fsetstat(id: number, r: PacketReader): Promise<Buffer> {
    const f = this.handles.file(r.string());
    return okAfter(id, f.setAttrs(r.attrs()));
  }

  // OPENDIR: uint32 id, string path
  private async opendir(id: number, r: PacketReader): Promise<Buffer> {
    const p = r.path();
    const release = this.handles.reserve('dir');
    let listing: DirListing;
    try {
      listing = await this.fs.opendir(p);
    } catch (err) {
      release();
      throw err;
    }
    return handlePacket(id, this.handles.add({ kind: 'dir', virtualPath: p, listing, release }));
  }

  // READDIR: uint32 id, string handle
  private async readdir(id: number, r: PacketReader): Promise<Buffer> {
    const h = this.handles.dir(r.string());
    const { user } = this.o;
    // What an entry adds to the reply: its name twice (filename and long
    // name), the owner twice, the rest of the long name and the attributes.
    const owner = 2 * Math.max(8, Buffer.byteLength(user));
    const found = await h.listing.next({
      names: READDIR_BATCH,
      bytes: READDIR_MAX_BYTES - NAME_HEADER,
      cost: (name) => 2 * Buffer.byteLength(name) + owner + 128,
    });
    if (!found) return statusPacket(id, Status.EOF, 'end of directory');
    const now = Date.now();
    const entries: NameEntry[] = found.map(({ name, stats, group }) => ({
      filename: name,
      // A shared folder says its mode in the group column ("shared:read").
      longname: longName(name, stats, user, now, group),
      attrs: attrsFromStats(stats),
    }));
    return namePacket(id, entries);
  }

  // REMOVE: uint32 id, string filename
  private remove(id: number, r: PacketReader): Promise<Buffer> {
    return okAfter(id, this.fs.remove(r.path()));
  }

  // MKDIR: uint32 id, string path, ATTRS attrs (some clients leave the attrs out)
  private mkdir(id: number, r: PacketReader): Promise<Buffer> {
    const p = r.path();
    return okAfter(id, this.fs.mkdir(p, r.remaining > 0 ? r.attrs() : {}));
  }

  // RMDIR: uint32 id, string path
  private rmdir(id: number, r: PacketReader): Promise<Buffer> {
    return okAfter(id, this.fs.rmdir(r.path()));
  }

  // REALPATH: uint32 id, string path
  private async realpath(id: number, r: PacketReader): Promise<Buffer> {
    // Most clients send "." first to learn where they start: "/", the home.
    return singleNamePacket(id, await this.fs.realpath(r.path()));
  }

  // RENAME: uint32 id, string oldpath, string newpath
  private rename(id: number, r: PacketReader): Promise<Buffer> {
    const from = r.path();
    return okAfter(id, this.fs.rename(from, r.path(), { overwrite: false }));
  }

  // READLINK: uint32 id, string path
  private async readlink(id: number, r: PacketReader): Promise<Buffer> {
    return singleNamePacket(id, await this.fs.readlink(r.path()));
  }

  // SYMLINK: uint32 id, string targetpath, string linkpath (OpenSSH's order)
  private symlink(id: number, r: PacketReader): Promise<Buffer> {
    // OpenSSH order (target, then link path) unless this client sends
    // draft-02 order to servers that are not OpenSSH: see client-quirks.ts.
    const first = r.path();
    const second = r.path();
    const [link, target] = this.o.linkPathFirst ? [first, second] : [second, first];
    return okAfter(id, this.fs.symlink(link, target));
  }

  // EXTENDED: uint32 id, string extended-request, then that request's own fields
  private extended(id: number, r: PacketReader): Promise<Buffer> {
    const name = r.string();
    return this.o.extensions.handle(name, { id, reader: r, session: this.context });
  }
}
