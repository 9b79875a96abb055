/**
 * One SFTP v3 session on an SSH channel: frames packets, runs requests
 * concurrently (clients pipeline dozens), answers each id exactly once, and
 * stops reading the channel while too much is pending so memory stays bounded.
 */
import type { ServerChannel } from 'ssh2';
import { MiniftpError, describeError } from '../errors';
import type { Logger } from '../log/types';
import { formatSize } from '../config/size';
import type { DirListing } from '../vfs/dir-listing';
import type { UserFs } from '../vfs/user-fs';
import type { VFile } from '../vfs/vfile';
import { BufferPool, MalformedPacket, PacketFramer, PacketReader, PacketWriter } from './codec';
import { Ext, OpenFlag, PacketType, SFTP_VERSION, Status } from './constants';
import { attrsFromStats, longName } from './attrs';
import {
  DATA_HEADER,
  attrsPacket,
  fillDataHeader,
  handlePacket,
  namePacket,
  singleNamePacket,
  statusPacket,
  type NameEntry,
} from './replies';
import { isUnexpected, statusFromError } from './status';
import type { ExtensionRegistry } from './extensions';
import { sendsLinkPathFirst } from './client-quirks';
import {
  HandleBudget,
  LISTING_BYTES_PER_HANDLE,
  READDIR_MAX_BYTES,
  type Release,
} from './handle-budget';

export interface SftpLimits {
  /** Largest packet body accepted (and advertised by limits@openssh.com). */
  maxPacket: number;
  /** Requests running at once before the channel is paused. */
  maxPending: number;
  maxHandles: number;
  /**
   * Bytes of directory listings this session may buffer at once (each open
   * directory handle counts LISTING_BYTES_PER_HANDLE); 0 or absent for no limit.
   */
  maxListingBytes?: number;
}

interface DirHandle {
  kind: 'dir';
  virtualPath: string;
  listing: DirListing;
  /** Gives back the handle's share of the session's and the server's budgets. */
  release: Release;
}

interface FileHandle {
  kind: 'file';
  file: VFile;
  release: Release;
}

type Handle = DirHandle | FileHandle;

/** A request's place in the reply order; `sent` runs once its reply has left. */
interface ReplySlot {
  packet: Buffer | undefined;
  sent: () => void;
  /** A request waiting to reach the head of the order before it runs (see `waitsForEarlier`). */
  start?: () => void;
}

const noop = (): void => undefined;

/** Extensions that only look things up: like STAT, they need not wait for what came before. */
const LOOKUP_EXTENSIONS: ReadonlySet<string> = new Set([
  Ext.STATVFS,
  Ext.FSTATVFS,
  Ext.LIMITS,
  Ext.EXPAND_PATH,
  Ext.HOME_DIRECTORY,
  Ext.USERS_GROUPS_BY_ID,
]);

/**
 * Whether a request must wait until every request before it has been
 * answered: requests that change names, attributes or contents, and those
 * that read what earlier writes left (fsync, check-file). The rest (READ,
 * WRITE, STAT, OPENDIR…) run at once, after the last such request only.
 * Clients pipeline dependent requests: lftp's `mkdir -p a/b/c` sends the
 * three MKDIRs without waiting, as OpenSSH's sftp-server, which runs one
 * request at a time, allows.
 */
function waitsForEarlier(type: number, body: Buffer): boolean {
  switch (type) {
    case PacketType.MKDIR:
    case PacketType.RMDIR:
    case PacketType.REMOVE:
    case PacketType.RENAME:
    case PacketType.SYMLINK:
    case PacketType.SETSTAT:
    case PacketType.FSETSTAT:
      return true;
    case PacketType.OPEN:
    case PacketType.EXTENDED: {
      try {
        const r = new PacketReader(body, 5);
        const name = r.string();
        if (type === PacketType.EXTENDED) return !LOOKUP_EXTENSIONS.has(name);
        const changing = OpenFlag.WRITE | OpenFlag.APPEND | OpenFlag.CREAT | OpenFlag.TRUNC;
        return (r.u32() & changing) !== 0;
      } catch {
        // Malformed: it fails when parsed, in its turn.
        return true;
      }
    }
    default:
      return false;
  }
}

/**
 * Bytes of WRITE payload and READ replies held in memory at once before the
 * channel is paused. OpenSSH's sftp keeps 64 requests of 256 KiB in flight;
 * 16 of them keep the disk (libuv's 4 threads) and a 2 MiB window busy, and
 * the client's others wait, 30 bytes each, in the channel.
 */
const MAX_PENDING_DATA_BYTES = 4 * 1024 * 1024;
/**
 * Free transfer buffers a session keeps, freed when it ends. A READ reply's
 * buffer stays in flight after its request is answered, until ssh2 has sent
 * it: with 16 requests running and ssh2's 2 MiB channel buffer, a download
 * cycles more than 16 of them. Keeping only 16 made the surplus garbage that
 * lived long enough to reach V8's old space: a higher peak RSS in downloads
 * (figures in docs/performance.md).
 */
const POOL_KEEP = 64;
/** READs up to this size get an exact buffer: a pooled one would waste the rest of its bytes. */
const POOLED_READ_MIN = 64 * 1024;
/** Names per READDIR reply (OpenSSH's sftp-server sends up to 100). */
const READDIR_BATCH = 100;
/** Room in a NAME reply for its header (length, type, id, count). */
const NAME_HEADER = 13;

export interface SftpSessionOptions {
  channel: ServerChannel;
  fs: UserFs;
  user: string;
  logger: Logger;
  limits: SftpLimits;
  extensions: ExtensionRegistry;
  /** The client's SSH identification line; some clients' quirks depend on it. */
  clientIdent?: string;
  /** Handles and listing memory shared by every session of the server; none when absent. */
  budget?: HandleBudget;
}

export class SftpSession {
  private readonly channel: ServerChannel;
  readonly fs: UserFs;
  readonly user: string;
  readonly logger: Logger;
  readonly limits: SftpLimits;
  private readonly extensions: ExtensionRegistry;
  private readonly linkPathFirst: boolean;
  private readonly pool: BufferPool;
  private readonly framer: PacketFramer;
  private readonly handles = new Map<string, Handle>();
  private readonly budget: HandleBudget;
  /** Handles open or being opened: each holds a share taken by `reserve`. */
  private reserved = 0;
  /** Bytes of listing memory the open directory handles count for. */
  private listingBytes = 0;
  private nextHandle = 1;
  private initialized = false;
  private pending = 0;
  private pendingDataBytes = 0;
  private outputBlocked = false;
  private paused = false;
  /** The client sent EOF: once the packets before it are handled, the session ends. */
  private inputEnded = false;
  private processing = false;
  private closed = false;
  private idle: Array<() => void> = [];
  /**
   * Replies leave in the order the requests came, though the requests run at
   * once. paramiko (SFTPFile with set_pipelined, which put() turns on) pairs
   * the STATUS replies to its WRITEs in the order it sent them and waits
   * forever for one that overtook another; OpenSSH's sftp-server, one request
   * at a time, and Go's pkg/sftp server answer in order too.
   */
  private readonly replyOrder: ReplySlot[] = [];
  private endedResolve: () => void = noop;
  /** Resolves once the session has ended and closed every file it had open. */
  readonly ended = new Promise<void>((resolve) => (this.endedResolve = resolve));
  /** Settles when the last request that waits for all before it has been answered. */
  private lastBarrier: Promise<void> | undefined;
  private readonly ending = new AbortController();
  /**
   * Aborts when the channel closes: nobody can receive an answer any more, so
   * long work for the session (hashing) stops. A client's EOF alone does not
   * abort: the requests before it are still answered.
   */
  readonly signal: AbortSignal = this.ending.signal;

  constructor(o: SftpSessionOptions) {
    this.channel = o.channel;
    this.fs = o.fs;
    this.user = o.user;
    this.logger = o.logger;
    this.limits = o.limits;
    this.extensions = o.extensions;
    this.budget = o.budget ?? HandleBudget.unlimited();
    this.linkPathFirst = sendsLinkPathFirst(o.clientIdent);
    // One size for both: a READ reply is at most DATA_HEADER + maxPacket - 1024 bytes.
    this.pool = new BufferPool(o.limits.maxPacket, POOL_KEEP);
    this.framer = new PacketFramer(o.limits.maxPacket, this.pool);
  }

  start(): void {
    this.channel.on('data', (chunk: Buffer) => this.onData(chunk));
    // The client sends EOF when it is done (OpenSSH's sftp on "bye"): finish and close.
    this.channel.on('end', () => {
      this.inputEnded = true;
      this.processPackets();
    });
    this.channel.on('close', () => void this.shutdown('channel closed'));
    this.channel.once('close', () => this.ending.abort());
    this.channel.on('error', (err: Error) => {
      this.logger.warn('sftp.channel_error', { error: err.message });
      void this.shutdown('channel error');
    });
    this.channel.on('drain', () => {
      this.outputBlocked = false;
      this.updateFlow();
    });
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.framer.push(chunk);
    this.processPackets();
  }

  /**
   * Handles the whole packets buffered so far, but none while the session is
   * paused: one chunk of channel data can hold a thousand small requests (a
   * READ is 30 bytes and allocates its reply up front), and the pending limit
   * must hold for those too, not only for the chunks after it.
   */
  private processPackets(): void {
    if (this.processing) return;
    this.processing = true;
    try {
      while (!this.closed && !this.paused) {
        const body = this.framer.next();
        if (!body) break;
        this.onPacket(body);
      }
    } catch (err) {
      this.protocolError(err);
    } finally {
      this.processing = false;
    }
    if (this.inputEnded && !this.closed && !this.paused) {
      void this.shutdown('client closed the session');
    }
  }

  private protocolError(err: unknown): void {
    this.logger.warn('sftp.bad_packet', { error: describeError(err) });
    void this.shutdown('malformed packet');
  }

  private onPacket(body: Buffer): void {
    const type = body[0] as number;
    if (!this.initialized) {
      if (type !== PacketType.INIT) throw MiniftpError.badMessage('the first packet must be INIT');
      this.initialized = true;
      this.send(this.versionPacket());
      return;
    }
    if (type === PacketType.INIT) throw MiniftpError.badMessage('INIT sent twice');
    const r = new PacketReader(body, 1);
    const id = r.u32();
    const dataBytes = this.dataBytes(type, body);
    this.pending++;
    this.pendingDataBytes += dataBytes;
    this.updateFlow();
    const run = (): Promise<Buffer> => {
      try {
        return this.dispatch(type, id, r);
      } catch (err) {
        return Promise.reject(err);
      }
    };
    let malformed: MalformedPacket | undefined;
    const slot: ReplySlot = {
      packet: undefined,
      sent: () => {
        this.pending--;
        this.pendingDataBytes -= dataBytes;
        // The request is answered, so nothing reads its body any more (a WRITE's
        // data went to disk before its STATUS): the buffer can serve another.
        this.pool.release(body);
        this.updateFlow();
        if (this.pending === 0) for (const resolve of this.idle.splice(0)) resolve();
        // Answered with BAD_MESSAGE; nothing after it in the stream can be trusted.
        if (malformed) this.protocolError(malformed);
      },
    };
    this.replyOrder.push(slot);
    let reply: Promise<Buffer>;
    if (waitsForEarlier(type, body)) {
      reply =
        this.replyOrder[0] === slot
          ? run()
          : new Promise<Buffer>((resolve) => (slot.start = () => resolve(run())));
      const done = reply.then(noop, noop);
      this.lastBarrier = done;
      void done.then(() => {
        if (this.lastBarrier === done) this.lastBarrier = undefined;
      });
    } else {
      reply = this.lastBarrier ? this.lastBarrier.then(run) : run();
    }
    reply
      .catch((err: unknown) => {
        if (err instanceof MalformedPacket) malformed = err;
        return this.errorReply(type, id, err);
      })
      .catch(() => statusPacket(id, Status.FAILURE, 'internal error'))
      .then((packet) => {
        slot.packet = packet;
        this.sendReplies();
      })
      .catch(() => undefined);
  }

  /** The memory a request holds until it is answered: a WRITE's body, a READ's reply. */
  private dataBytes(type: number, body: Buffer): number {
    if (type === PacketType.WRITE) return body.length;
    // A READ ends with its uint32 length (anything shorter is refused when parsed).
    if (type === PacketType.READ && body.length >= 9) {
      return Math.min(body.readUInt32BE(body.length - 4), this.limits.maxPacket);
    }
    return 0;
  }

  /** Sends the replies at the head of the order that are ready. */
  private sendReplies(): void {
    for (let head = this.replyOrder[0]; head?.packet; head = this.replyOrder[0]) {
      this.replyOrder.shift();
      try {
        this.send(head.packet);
      } finally {
        head.sent();
      }
    }
    // Everything before the new head is answered: a request waiting for that runs now.
    const next = this.replyOrder[0];
    if (next?.start) {
      const start = next.start;
      next.start = undefined;
      start();
    }
  }

  private errorReply(type: number, id: number, err: unknown): Buffer {
    const { code, message } = statusFromError(err);
    const fields = { type, error: describeError(err) };
    if (isUnexpected(err)) this.logger.error('sftp.request_failed', fields);
    else this.logger.debug('sftp.request_refused', fields);
    return statusPacket(id, code, message);
  }

  private updateFlow(): void {
    const shouldPause =
      this.pending >= this.limits.maxPending ||
      this.pendingDataBytes >= MAX_PENDING_DATA_BYTES ||
      this.outputBlocked;
    if (shouldPause && !this.paused) {
      this.paused = true;
      this.channel.pause();
    } else if (!shouldPause && this.paused && !this.closed) {
      this.paused = false;
      this.channel.resume();
      this.processPackets();
    }
  }

  private send(packet: Buffer): void {
    // Not `closed`: shutdown() waits for the requests still running, and their answers are sent.
    if (this.channel.destroyed || this.channel.writableEnded) {
      this.pool.release(packet);
      return;
    }
    const pooled = this.pool.owns(packet);
    // ssh2 calls back once it has copied the last byte into an SSH packet (it
    // holds the rest while the client's window is full); on an error it may
    // still hold it, so the buffer is left to the GC then.
    const written = pooled
      ? (err?: Error | null): void => {
          if (!err) this.pool.release(packet);
        }
      : undefined;
    if (!this.channel.write(packet, written)) {
      this.outputBlocked = true;
      this.updateFlow();
    }
  }

  private versionPacket(): Buffer {
    const w = new PacketWriter(PacketType.VERSION, 512).u32(SFTP_VERSION);
    for (const [name, data] of this.extensions.advertised()) w.string(name).string(data);
    return w.finish();
  }

  // ---- handles -------------------------------------------------------------

  /**
   * Takes a handle's share of every budget before whatever it holds is
   * opened: a slot of this session's handles, one of the user's and of the
   * server's descriptors and, for a directory, its listing memory. Throws a
   * `limit` error, having taken nothing, when one is spent.
   */
  private reserve(kind: Handle['kind']): Release {
    const { maxHandles, maxListingBytes = 0 } = this.limits;
    if (this.reserved >= maxHandles) {
      throw MiniftpError.limit(`too many open handles (limit ${maxHandles})`);
    }
    const taken: Release[] = [];
    try {
      if (kind === 'dir') {
        const bytes = LISTING_BYTES_PER_HANDLE;
        if (maxListingBytes > 0 && this.listingBytes + bytes > maxListingBytes) {
          throw MiniftpError.limit(
            `too many directory listings open in this session (memory limit ${formatSize(maxListingBytes)}); close some first`,
          );
        }
        taken.push(this.budget.takeListing(bytes));
        this.listingBytes += bytes;
        taken.push(() => (this.listingBytes -= bytes));
      }
      taken.push(this.budget.takeHandle(this.user));
    } catch (err) {
      for (const give of taken) give();
      throw err;
    }
    this.reserved++;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.reserved--;
      for (const give of taken) give();
    };
  }

  private addHandle(h: Handle): string {
    const id = String(this.nextHandle++);
    this.handles.set(id, h);
    return id;
  }

  /** Gives an open file a handle in this session (the resume extension opens its own). */
  adoptFile(file: VFile): string {
    return this.addHandle({ kind: 'file', file, release: this.reserve('file') });
  }

  /** True when this session has the file `key` (device:inode) open for writing. */
  writesTo(key: string): boolean {
    for (const h of this.handles.values()) {
      if (h.kind === 'file' && h.file.writable && h.file.key === key) return true;
    }
    return false;
  }

  /** The open file behind a handle string (extensions use this too). */
  file(handle: string): VFile {
    const h = this.handles.get(handle);
    if (!h) throw MiniftpError.invalid('invalid handle');
    if (h.kind !== 'file') throw MiniftpError.invalid('the handle is a directory');
    return h.file;
  }

  // ---- requests ------------------------------------------------------------

  private dispatch(type: number, id: number, r: PacketReader): Promise<Buffer> {
    switch (type) {
      case PacketType.OPEN:
        return this.open(id, r);
      case PacketType.CLOSE:
        return this.close(id, r.string());
      case PacketType.READ:
        return this.read(id, r);
      case PacketType.WRITE:
        return this.write(id, r);
      case PacketType.LSTAT:
        return this.statPath(id, r.path(), false);
      case PacketType.STAT:
        return this.statPath(id, r.path(), true);
      case PacketType.FSTAT:
        return this.fstat(id, r.string());
      case PacketType.SETSTAT: {
        const p = r.path();
        return this.ok(id, this.fs.setAttrs(p, r.attrs(), { follow: true }));
      }
      case PacketType.FSETSTAT: {
        const f = this.file(r.string());
        return this.ok(id, f.setAttrs(r.attrs()));
      }
      case PacketType.OPENDIR:
        return this.opendir(id, r.path());
      case PacketType.READDIR:
        return this.readdir(id, r.string());
      case PacketType.REMOVE:
        return this.ok(id, this.fs.remove(r.path()));
      case PacketType.MKDIR: {
        const p = r.path();
        return this.ok(id, this.fs.mkdir(p, r.remaining > 0 ? r.attrs() : {}));
      }
      case PacketType.RMDIR:
        return this.ok(id, this.fs.rmdir(r.path()));
      case PacketType.REALPATH:
        return this.realpath(id, r.path());
      case PacketType.RENAME: {
        const from = r.path();
        return this.ok(id, this.fs.rename(from, r.path(), { overwrite: false }));
      }
      case PacketType.READLINK:
        return this.readlink(id, r.path());
      case PacketType.SYMLINK: {
        // OpenSSH order (target, then link path) unless this client sends
        // draft-02 order to servers that are not OpenSSH: see client-quirks.ts.
        const first = r.path();
        const second = r.path();
        const [link, target] = this.linkPathFirst ? [first, second] : [second, first];
        return this.ok(id, this.fs.symlink(link, target));
      }
      case PacketType.EXTENDED: {
        const name = r.string();
        return this.extensions.handle(name, { id, reader: r, session: this });
      }
      default:
        return Promise.resolve(
          statusPacket(id, Status.OP_UNSUPPORTED, `unsupported request type ${type}`),
        );
    }
  }

  /** Runs `op` and answers STATUS OK when it succeeds. */
  async ok(id: number, op: Promise<void>): Promise<Buffer> {
    await op;
    return statusPacket(id, Status.OK, 'OK');
  }

  private async open(id: number, r: PacketReader): Promise<Buffer> {
    const p = r.path();
    const pflags = r.u32();
    const attrs = r.attrs();
    const read = (pflags & OpenFlag.READ) !== 0;
    const write = (pflags & OpenFlag.WRITE) !== 0;
    const append = (pflags & OpenFlag.APPEND) !== 0;
    const release = this.reserve('file');
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
    const handle = this.addHandle({ kind: 'file', file, release });
    try {
      if (attrs.atime !== undefined && attrs.mtime !== undefined && file.writable) {
        await file.setAttrs({ atime: attrs.atime, mtime: attrs.mtime });
      }
      return handlePacket(id, handle);
    } catch (err) {
      this.handles.delete(handle);
      await file.close().catch(() => undefined);
      release();
      throw err;
    }
  }

  private async close(id: number, handle: string): Promise<Buffer> {
    const h = this.handles.get(handle);
    if (!h) throw MiniftpError.invalid('invalid handle');
    this.handles.delete(handle);
    try {
      if (h.kind === 'file') await this.closeFile(h.file, { handOff: true });
      else await h.listing.close();
    } finally {
      h.release();
    }
    return statusPacket(id, Status.OK, 'OK');
  }

  private async closeFile(file: VFile, options: { handOff?: boolean } = {}): Promise<void> {
    await file.close(options);
    if (file.bytesSent > 0 || file.bytesWritten > 0 || file.writable) {
      this.logger.info('file.closed', {
        path: file.virtualPath,
        bytes_in: file.bytesWritten,
        bytes_out: file.bytesSent,
        ms: Date.now() - file.openedAt,
      });
    }
  }

  private async read(id: number, r: PacketReader): Promise<Buffer> {
    const file = this.file(r.string());
    const offset = r.u64OrUndefined();
    const want = Math.min(r.u32(), this.limits.maxPacket - 1024);
    if (offset === undefined) {
      if (!file.readable) throw MiniftpError.permission('the file was not opened for reading');
      return statusPacket(id, Status.EOF, 'end of file');
    }
    const pooled = want > POOLED_READ_MIN;
    const buf = pooled ? this.pool.get() : Buffer.allocUnsafe(DATA_HEADER + want);
    let n: number;
    try {
      n = await file.read(offset, want, buf, DATA_HEADER);
    } catch (err) {
      this.pool.release(buf);
      throw err;
    }
    if (n === 0 && want > 0) {
      this.pool.release(buf);
      return statusPacket(id, Status.EOF, 'end of file');
    }
    file.bytesSent += n;
    return fillDataHeader(buf, id, n);
  }

  private write(id: number, r: PacketReader): Promise<Buffer> {
    const file = this.file(r.string());
    const offset = r.u64();
    const data = r.bytes();
    // No await before file.write: it must be registered as in flight before a
    // CLOSE that the client pipelined right behind it is handled.
    return this.ok(id, file.write(offset, data));
  }

  private async statPath(id: number, p: string, follow: boolean): Promise<Buffer> {
    const st = follow ? await this.fs.stat(p) : await this.fs.lstat(p);
    return attrsPacket(id, attrsFromStats(st));
  }

  private async fstat(id: number, handle: string): Promise<Buffer> {
    const st = await this.file(handle).stat();
    return attrsPacket(id, attrsFromStats(st));
  }

  private async opendir(id: number, p: string): Promise<Buffer> {
    const release = this.reserve('dir');
    let listing: DirListing;
    try {
      listing = await this.fs.opendir(p);
    } catch (err) {
      release();
      throw err;
    }
    return handlePacket(id, this.addHandle({ kind: 'dir', virtualPath: p, listing, release }));
  }

  private async readdir(id: number, handle: string): Promise<Buffer> {
    const h = this.handles.get(handle);
    if (!h) throw MiniftpError.invalid('invalid handle');
    if (h.kind !== 'dir') throw MiniftpError.invalid('the handle is not a directory');
    // What an entry adds to the reply: its name twice (filename and long
    // name), the owner twice, the rest of the long name and the attributes.
    const owner = 2 * Math.max(8, Buffer.byteLength(this.user));
    const found = await h.listing.next({
      names: READDIR_BATCH,
      bytes: READDIR_MAX_BYTES - NAME_HEADER,
      cost: (name) => 2 * Buffer.byteLength(name) + owner + 128,
    });
    if (!found) return statusPacket(id, Status.EOF, 'end of directory');
    const now = Date.now();
    const entries: NameEntry[] = found.map(({ name, stats }) => ({
      filename: name,
      longname: longName(name, stats, this.user, now),
      attrs: attrsFromStats(stats),
    }));
    return namePacket(id, entries);
  }

  private async realpath(id: number, p: string): Promise<Buffer> {
    // Most clients send "." first to learn where they start: "/", the home.
    return singleNamePacket(id, await this.fs.realpath(p));
  }

  private async readlink(id: number, p: string): Promise<Buffer> {
    return singleNamePacket(id, await this.fs.readlink(p));
  }

  // ---- shutdown ------------------------------------------------------------

  /** Waits for running requests, closes every handle, ends the channel. */
  async shutdown(reason: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.channel.pause();
    if (this.pending > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    this.pool.clear();
    const open = [...this.handles.values()];
    this.handles.clear();
    for (const h of open) {
      if (h.kind === 'file') await this.closeFile(h.file).catch(() => undefined);
      else await h.listing.close().catch(() => undefined);
      h.release();
    }
    this.logger.debug('sftp.end', { reason });
    // Not when the channel was ended for the session already (a kick: see farewell).
    if (!this.channel.destroyed && !this.channel.writableEnded) {
      // OpenSSH's server reports the subsystem's exit status; some clients log its absence.
      this.channel.exit(0);
      this.channel.end();
    }
    this.endedResolve();
  }
}
