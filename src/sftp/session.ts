/**
 * One SFTP v3 session on an SSH channel: frames packets, runs requests
 * concurrently (clients pipeline dozens), answers each id exactly once, and
 * stops reading the channel while too much is pending so memory stays bounded.
 */
import type { ServerChannel } from 'ssh2';
import { MiniftpError, describeError } from '../errors';
import type { Logger } from '../log/types';
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

export interface SftpLimits {
  /** Largest packet body accepted (and advertised by limits@openssh.com). */
  maxPacket: number;
  /** Requests running at once before the channel is paused. */
  maxPending: number;
  maxHandles: number;
}

interface DirHandle {
  kind: 'dir';
  virtualPath: string;
  real: string;
  names: string[];
  pos: number;
}

interface FileHandle {
  kind: 'file';
  file: VFile;
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
 * lived long enough to reach V8's old space (download peak RSS +30 MiB).
 */
const POOL_KEEP = 64;
/** READs up to this size get an exact buffer: a pooled one would waste the rest of its bytes. */
const POOLED_READ_MIN = 64 * 1024;
/** Names per READDIR reply (OpenSSH's sftp-server sends up to 100). */
const READDIR_BATCH = 100;

export interface SftpSessionOptions {
  channel: ServerChannel;
  fs: UserFs;
  user: string;
  logger: Logger;
  limits: SftpLimits;
  extensions: ExtensionRegistry;
  /** The client's SSH identification line; some clients' quirks depend on it. */
  clientIdent?: string;
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

  private addHandle(h: Handle): string {
    if (this.handles.size >= this.limits.maxHandles) {
      throw MiniftpError.limit(`too many open handles (limit ${this.limits.maxHandles})`);
    }
    const id = String(this.nextHandle++);
    this.handles.set(id, h);
    return id;
  }

  /** Gives an open file a handle in this session (the resume extension opens its own). */
  adoptFile(file: VFile): string {
    return this.addHandle({ kind: 'file', file });
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
    if (this.handles.size >= this.limits.maxHandles) {
      throw MiniftpError.limit(`too many open handles (limit ${this.limits.maxHandles})`);
    }
    const file = await this.fs.open(p, {
      read,
      write,
      append,
      create: (pflags & OpenFlag.CREAT) !== 0,
      truncate: (pflags & OpenFlag.TRUNC) !== 0,
      exclusive: (pflags & OpenFlag.EXCL) !== 0,
      mode: attrs.permissions,
    });
    try {
      const handle = this.addHandle({ kind: 'file', file });
      if (attrs.atime !== undefined && attrs.mtime !== undefined && file.writable) {
        await file.setAttrs({ atime: attrs.atime, mtime: attrs.mtime });
      }
      return handlePacket(id, handle);
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
  }

  private async close(id: number, handle: string): Promise<Buffer> {
    const h = this.handles.get(handle);
    if (!h) throw MiniftpError.invalid('invalid handle');
    this.handles.delete(handle);
    if (h.kind === 'file') await this.closeFile(h.file, { handOff: true });
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
    if (this.handles.size >= this.limits.maxHandles) {
      throw MiniftpError.limit(`too many open handles (limit ${this.limits.maxHandles})`);
    }
    const { real, entries } = await this.fs.readdir(p);
    const handle = this.addHandle({
      kind: 'dir',
      virtualPath: p,
      real,
      names: ['.', '..', ...entries],
      pos: 0,
    });
    return handlePacket(id, handle);
  }

  private async readdir(id: number, handle: string): Promise<Buffer> {
    const h = this.handles.get(handle);
    if (!h) throw MiniftpError.invalid('invalid handle');
    if (h.kind !== 'dir') throw MiniftpError.invalid('the handle is not a directory');
    const entries: NameEntry[] = [];
    const now = Date.now();
    // Entries removed since OPENDIR are skipped; keep going until a batch has something.
    while (entries.length === 0 && h.pos < h.names.length) {
      const batch = h.names.slice(h.pos, h.pos + READDIR_BATCH);
      h.pos += batch.length;
      const stats = await this.fs.statEntries(h.real, batch);
      for (const { name, stats: st } of stats) {
        entries.push({
          filename: name,
          longname: longName(name, st, this.user, now),
          attrs: attrsFromStats(st),
        });
      }
    }
    if (entries.length === 0) return statusPacket(id, Status.EOF, 'end of directory');
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
