/**
 * An SFTP v3 client over a plain `subsys('sftp')` channel, speaking through the
 * shared codec. ssh2's own client-side SFTP class cannot send arbitrary
 * extended requests (check-file, resume-upload@miniftp), hence this class.
 */
import type { Client, ClientChannel } from 'ssh2';
import { type Attrs, PacketFramer, PacketReader, PacketWriter } from '../sftp/codec';
import { Ext, PacketType, SFTP_VERSION } from '../sftp/constants';
import { ReceiveWindow } from '../util/receive-window';
import { ClientError, ConnectionLostError, ProtocolError } from './errors';
import * as replies from './sftp-replies';
import type { DirEntry, Reply } from './sftp-replies';

import {
  DEFAULT_LIMITS,
  readCheckFile,
  readLimits,
  writeCheckFile,
  type CheckFileOptions,
  type CheckFileResult,
  type CheckFileTarget,
  type SftpLimits,
} from './sftp-extensions';

export type { DirEntry } from './sftp-replies';
export {
  DEFAULT_LIMITS,
  type CheckFileOptions,
  type CheckFileResult,
  type CheckFileTarget,
  type SftpLimits,
} from './sftp-extensions';

/**
 * The receive window granted to the server: more than the requests in flight
 * ask for (64 READs of 256 KiB), so that they, not the window, bound a
 * download. The server sends only what was asked for: this costs no memory.
 */
const RECEIVE_WINDOW = 32 * 1024 * 1024;

/** Replies larger than this are refused as malformed (DATA is at most max-packet). */
const MAX_REPLY_PACKET = 8 * 1024 * 1024;

interface Pending {
  resolve(reply: Reply): void;
  reject(err: Error): void;
}

export class SftpChannel {
  private readonly framer = new PacketFramer(MAX_REPLY_PACKET);
  private readonly pending = new Map<number, Pending>();
  private readonly queued: Buffer[] = [];
  private nextId = 0;
  private blocked = false;
  private failure: ClientError | undefined;
  private limitsPromise: Promise<SftpLimits> | undefined;
  private readonly closedPromise: Promise<void>;
  private markClosed!: () => void;
  private versionWaiter: Pending | undefined;
  /** The connection the channel was opened on, when `open` did it. */
  private conn: Client | undefined;
  /** Protocol version and extensions (name → data) from the server's VERSION. */
  version = 0;
  readonly extensions = new Map<string, string>();

  private constructor(private readonly channel: ClientChannel) {
    this.closedPromise = new Promise((resolve) => (this.markClosed = resolve));
    channel.on('data', (chunk: Buffer) => this.onData(chunk));
    channel.on('drain', () => this.flush());
    channel.on('error', (err: Error) =>
      this.fail(new ConnectionLostError(`the SFTP channel failed: ${err.message}`, { cause: err })),
    );
    // What the server says on stderr before it ends the session ("miniftp:
    // disconnected: kicked by admin") is the reason to show.
    let said = '';
    channel.stderr.on('data', (d: Buffer) => (said = (said + d.toString()).slice(-500)));
    const reason = (): string | undefined => said.trim().split('\n').pop() || undefined;
    channel.on('close', () => this.fail(new ConnectionLostError(reason())));
    // The server ends the channel when it shuts the session down.
    channel.on('end', () =>
      this.fail(new ConnectionLostError(reason() ?? 'the server closed the session')),
    );
    // READ replies come in through this channel's window: ssh2's 2 MiB would
    // cap a download at 2 MiB per round trip, below the requests in flight.
    ReceiveWindow.take(channel, { allowance: () => RECEIVE_WINDOW })?.refresh();
  }

  /** Opens the "sftp" subsystem on `conn` and exchanges INIT/VERSION. */
  static open(conn: Client): Promise<SftpChannel> {
    return new Promise((resolve, reject) => {
      conn.subsys('sftp', (err, channel) => {
        if (err) {
          reject(
            new ConnectionLostError(
              `the server refused SFTP: ${err.message} (on MiniFTP, the admin account ` +
                'gets the console instead: use ssh for it)',
              { cause: err },
            ),
          );
          return;
        }
        SftpChannel.start(channel).then((sftp) => {
          sftp.conn = conn;
          resolve(sftp);
        }, reject);
      });
    });
  }

  /** Runs INIT/VERSION on a channel whose subsystem is already SFTP. */
  static async start(channel: ClientChannel): Promise<SftpChannel> {
    const sftp = new SftpChannel(channel);
    const version = new Promise<Reply>((resolve, reject) => {
      sftp.versionWaiter = { resolve, reject };
    });
    sftp.send(new PacketWriter(PacketType.INIT).u32(SFTP_VERSION).finish());
    const { reader } = await version;
    try {
      sftp.version = reader.u32();
      while (reader.remaining > 0) sftp.extensions.set(reader.string(), reader.string());
    } catch (err) {
      channel.close();
      const message = err instanceof Error ? err.message : String(err);
      throw new ProtocolError(`malformed VERSION from the server: ${message}`);
    }
    return sftp;
  }

  /**
   * Another SFTP session on the same connection (a download's segments),
   * undefined when this one was not opened by `open` (its connection is not
   * known here).
   */
  async sibling(): Promise<SftpChannel | undefined> {
    return this.conn ? SftpChannel.open(this.conn) : undefined;
  }

  hasExtension(name: string): boolean {
    return this.extensions.has(name);
  }

  /**
   * Whether check-file-name / check-file-handle may be sent. The extensions
   * draft has servers advertise "check-file" (its data: the algorithms) for
   * both requests, as MiniFTP and ProFTPD do; some list the request names.
   */
  canCheckFile(): boolean {
    return this.hasExtension(Ext.CHECK_FILE) || this.hasExtension(Ext.CHECK_FILE_NAME);
  }

  /** Why the channel ended (the server's own words when it gave some); undefined while open. */
  get endReason(): string | undefined {
    return this.failure?.message;
  }

  /** Resolves once the channel is closed, whatever closed it. */
  get closed(): Promise<void> {
    return this.closedPromise;
  }

  /** Ends the session: outstanding requests fail with ConnectionLostError. */
  end(): Promise<void> {
    if (!this.failure) {
      this.fail(new ConnectionLostError('the SFTP session was closed'));
      this.channel.end();
    }
    return this.closedPromise;
  }

  // ---- transport -----------------------------------------------------------

  /** Writes in order; while the channel refuses more, packets wait here (drain resumes them). */
  private send(packet: Buffer): void {
    if (this.blocked) {
      this.queued.push(packet);
      return;
    }
    if (!this.channel.write(packet)) this.blocked = true;
  }

  private flush(): void {
    this.blocked = false;
    while (!this.blocked && this.queued.length > 0) {
      if (!this.channel.write(this.queued.shift() as Buffer)) this.blocked = true;
    }
  }

  private onData(chunk: Buffer): void {
    if (this.failure) return;
    this.framer.push(chunk);
    try {
      for (;;) {
        const body = this.framer.next();
        if (!body) break;
        this.onPacket(body);
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.fail(new ProtocolError(`malformed reply from the server: ${message}`));
      this.channel.close();
    }
  }

  private onPacket(body: Buffer): void {
    const type = body[0] as number;
    const reader = new PacketReader(body, 1);
    if (this.versionWaiter) {
      if (type !== PacketType.VERSION) throw new ProtocolError('expected VERSION');
      const waiter = this.versionWaiter;
      this.versionWaiter = undefined;
      waiter.resolve({ type, reader });
      return;
    }
    const id = reader.u32();
    const waiter = this.pending.get(id);
    if (!waiter) throw new ProtocolError(`reply to unknown request ${id}`);
    this.pending.delete(id);
    waiter.resolve({ type, reader });
  }

  private fail(err: ClientError): void {
    if (this.failure) return;
    this.failure = err;
    this.queued.length = 0;
    this.versionWaiter?.reject(err);
    this.versionWaiter = undefined;
    const waiters = [...this.pending.values()];
    this.pending.clear();
    for (const w of waiters) w.reject(err);
    this.markClosed();
  }

  /**
   * Sends one request: `build` appends the fields after the id. The packet is
   * built before this returns, so callers may reuse their buffers at once.
   */
  private request(type: number, build: (w: PacketWriter) => void, sizeHint = 64): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0;
    const w = new PacketWriter(type, sizeHint).u32(id);
    build(w);
    const packet = w.finish();
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send(packet);
    });
  }

  /**
   * Sends a request and decodes its reply with `decode`. The codec throws its
   * own error on a truncated reply: that surfaces as the client's ProtocolError.
   */
  private async call<T>(
    type: number,
    build: (w: PacketWriter) => void,
    decode: (reply: Reply) => T,
    sizeHint?: number,
  ): Promise<T> {
    const reply = await this.request(type, build, sizeHint);
    try {
      return decode(reply);
    } catch (err) {
      if (err instanceof ClientError) throw err;
      const message = err instanceof Error ? err.message : String(err);
      throw new ProtocolError(`malformed reply from the server: ${message}`);
    }
  }

  // ---- files ---------------------------------------------------------------

  open(path: string, flags: number, attrs: Attrs = {}): Promise<Buffer> {
    return this.call(
      PacketType.OPEN,
      (w) => w.string(path).u32(flags).attrs(attrs),
      replies.handle,
    );
  }

  close(handle: Buffer): Promise<void> {
    return this.call(PacketType.CLOSE, (w) => w.bytes(handle), replies.ok);
  }

  /** Up to `length` bytes at `offset` (servers may send fewer); null at end of file. */
  read(handle: Buffer, offset: number, length: number): Promise<Buffer | null> {
    return this.call(PacketType.READ, (w) => w.bytes(handle).u64(offset).u32(length), replies.data);
  }

  /** `data` is copied into the packet before this returns. */
  write(handle: Buffer, offset: number, data: Buffer): Promise<void> {
    return this.call(
      PacketType.WRITE,
      (w) => w.bytes(handle).u64(offset).bytes(data),
      replies.ok,
      data.length + handle.length + 32,
    );
  }

  stat(path: string): Promise<Attrs> {
    return this.call(PacketType.STAT, (w) => w.string(path), replies.attrs);
  }

  lstat(path: string): Promise<Attrs> {
    return this.call(PacketType.LSTAT, (w) => w.string(path), replies.attrs);
  }

  fstat(handle: Buffer): Promise<Attrs> {
    return this.call(PacketType.FSTAT, (w) => w.bytes(handle), replies.attrs);
  }

  setstat(path: string, attrs: Attrs): Promise<void> {
    return this.call(PacketType.SETSTAT, (w) => w.string(path).attrs(attrs), replies.ok);
  }

  fsetstat(handle: Buffer, attrs: Attrs): Promise<void> {
    return this.call(PacketType.FSETSTAT, (w) => w.bytes(handle).attrs(attrs), replies.ok);
  }

  // ---- directories and names -----------------------------------------------

  opendir(path: string): Promise<Buffer> {
    return this.call(PacketType.OPENDIR, (w) => w.string(path), replies.handle);
  }

  /** The next batch of entries, or null once the directory is exhausted. */
  readdir(handle: Buffer): Promise<DirEntry[] | null> {
    return this.call(PacketType.READDIR, (w) => w.bytes(handle), replies.names);
  }

  /** Every entry of a directory except "." and "..". */
  async list(path: string): Promise<DirEntry[]> {
    const handle = await this.opendir(path);
    const all: DirEntry[] = [];
    try {
      for (;;) {
        const batch = await this.readdir(handle);
        if (!batch) break;
        for (const e of batch) if (e.filename !== '.' && e.filename !== '..') all.push(e);
      }
    } finally {
      await this.close(handle).catch(() => undefined);
    }
    return all;
  }

  mkdir(path: string, attrs: Attrs = {}): Promise<void> {
    return this.call(PacketType.MKDIR, (w) => w.string(path).attrs(attrs), replies.ok);
  }

  rmdir(path: string): Promise<void> {
    return this.call(PacketType.RMDIR, (w) => w.string(path), replies.ok);
  }

  remove(path: string): Promise<void> {
    return this.call(PacketType.REMOVE, (w) => w.string(path), replies.ok);
  }

  /**
   * Renames, replacing an existing target when the server offers
   * posix-rename@openssh.com (plain SFTP v3 RENAME refuses to overwrite).
   */
  async rename(from: string, to: string): Promise<void> {
    if (this.hasExtension(Ext.POSIX_RENAME)) {
      await this.extended(Ext.POSIX_RENAME, (w) => w.string(from).string(to));
      return;
    }
    await this.call(PacketType.RENAME, (w) => w.string(from).string(to), replies.ok);
  }

  async realpath(path: string): Promise<string> {
    const names = await this.call(PacketType.REALPATH, (w) => w.string(path), replies.names);
    const first = names?.[0];
    if (!first) throw new ProtocolError('REALPATH answered without a name');
    return first.filename;
  }

  // ---- extensions ----------------------------------------------------------

  /**
   * Sends an extended request. Resolves with the reader after the id of an
   * EXTENDED_REPLY, or an empty reader when the server answers STATUS OK.
   */
  extended(
    name: string,
    build: (w: PacketWriter) => void = () => undefined,
  ): Promise<PacketReader> {
    return this.extendedCall(name, build, (r) => r);
  }

  private extendedCall<T>(
    name: string,
    build: (w: PacketWriter) => void,
    decode: (r: PacketReader) => T,
  ): Promise<T> {
    return this.call(
      PacketType.EXTENDED,
      (w) => {
        w.string(name);
        build(w);
      },
      (reply) => decode(replies.extendedReply(reply)),
    );
  }

  /** The server's limits (limits@openssh.com), or OpenSSH's defaults without it. Cached. */
  limits(): Promise<SftpLimits> {
    this.limitsPromise ??= this.hasExtension(Ext.LIMITS)
      ? this.extendedCall(Ext.LIMITS, () => undefined, readLimits)
      : Promise.resolve({ ...DEFAULT_LIMITS });
    return this.limitsPromise;
  }

  /**
   * check-file-name / check-file-handle (draft-ietf-secsh-filexfer-extensions):
   * the server hashes the range itself. Reply: string algorithm used, then the
   * raw digests back to back, one per block.
   */
  checkFile(target: CheckFileTarget, options: CheckFileOptions): Promise<CheckFileResult> {
    const name = 'path' in target ? Ext.CHECK_FILE_NAME : Ext.CHECK_FILE_HANDLE;
    return this.extendedCall(
      name,
      (w) => writeCheckFile(w, target, options),
      (r) => readCheckFile(r, options.blockSize ?? 0),
    );
  }

  /**
   * resume-upload@miniftp: asks the server to continue `path` at `offset`,
   * proving with the MD5 of our first `offset` bytes that they are what it holds.
   * On a match the reply is a write handle (the file truncated to `offset`);
   * otherwise FAILURE "resume refused: …", thrown as ResumeMismatchError.
   */
  resumeUpload(path: string, offset: number, md5: Buffer): Promise<Buffer> {
    return this.call(
      PacketType.EXTENDED,
      (w) => w.string(Ext.RESUME_UPLOAD).string(path).u64(offset).bytes(md5),
      (reply) => {
        const err = replies.statusError(reply, offset);
        if (err) throw err;
        return replies.handle(reply);
      },
    );
  }
}
