/**
 * Why not src/client/sftp-channel.ts: this sends malformed packets and records stray replies.
 *
 * A bare SFTP v3 client over an ssh2 `subsys('sftp')` channel, built on the
 * project's own codec: for requests ssh2's SFTP class cannot send (arbitrary
 * extensions, malformed packets) and for checking the VERSION reply itself.
 */
import type { Client, ClientChannel } from 'ssh2';
import { PacketFramer, PacketReader, PacketWriter, type Attrs } from '../../src/sftp/codec';
import { PacketType, Status } from '../../src/sftp/constants';

export interface Reply {
  type: number;
  id: number;
  /** Positioned after the id. */
  reader: PacketReader;
}

export interface StatusReply {
  code: number;
  message: string;
}

export class SftpStatusError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(`status ${code}: ${message}`);
  }
}

export class RawSftp {
  readonly extensions = new Map<string, string>();
  version = 0;
  private readonly framer = new PacketFramer(16 * 1024 * 1024);
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private readonly unexpected: Reply[] = [];
  private nextId = 1;
  private versionWaiter: ((r: PacketReader) => void) | undefined;
  /** Resolves when the server closes the channel. */
  readonly closed: Promise<void>;

  private constructor(readonly channel: ClientChannel) {
    this.closed = new Promise((resolve) => channel.once('close', () => resolve()));
    channel.on('data', (chunk: Buffer) => this.onData(chunk));
    // The server may send exit-status and EOF first; the channel's data ends then.
    channel.on('end', () => undefined);
  }

  /** Opens the subsystem channel and exchanges INIT/VERSION. */
  static async open(client: Client): Promise<RawSftp> {
    const raw = await RawSftp.openUninitialised(client);
    await raw.init();
    return raw;
  }

  /** Opens the subsystem channel without sending INIT. */
  static openUninitialised(client: Client): Promise<RawSftp> {
    return new Promise((resolve, reject) => {
      client.subsys('sftp', (err, channel) => {
        if (err) reject(err);
        else resolve(new RawSftp(channel));
      });
    });
  }

  async init(): Promise<void> {
    const got = new Promise<PacketReader>((resolve) => (this.versionWaiter = resolve));
    this.sendRaw(new PacketWriter(PacketType.INIT).u32(3).finish());
    const r = await got;
    this.version = r.u32();
    while (r.remaining > 0) this.extensions.set(r.string(), r.string());
  }

  private onData(chunk: Buffer): void {
    this.framer.push(chunk);
    for (;;) {
      const body = this.framer.next();
      if (!body) return;
      const type = body[0] as number;
      const r = new PacketReader(body, 1);
      if (type === PacketType.VERSION) {
        this.versionWaiter?.(r);
        continue;
      }
      const id = r.u32();
      const waiter = this.waiting.get(id);
      const reply = { type, id, reader: r };
      if (waiter) {
        this.waiting.delete(id);
        waiter(reply);
      } else {
        this.unexpected.push(reply);
      }
    }
  }

  /** Replies that matched no request in flight (a second answer to one id, say). */
  get strayReplies(): readonly Reply[] {
    return this.unexpected;
  }

  get inFlight(): number {
    return this.waiting.size;
  }

  /** The reply to `id` of a request sent with `sendRaw`. */
  waitForId(id: number): Promise<Reply> {
    return new Promise<Reply>((resolve) => this.waiting.set(id, resolve));
  }

  sendRaw(packet: Buffer): void {
    this.channel.write(packet);
  }

  /** Sends `type` with a fresh id, the body written by `build`, and awaits the reply. */
  request(type: number, build: (w: PacketWriter) => void = () => undefined): Promise<Reply> {
    const id = this.nextId++;
    const w = new PacketWriter(type, 256).u32(id);
    build(w);
    const reply = new Promise<Reply>((resolve) => this.waiting.set(id, resolve));
    this.sendRaw(w.finish());
    return reply;
  }

  extended(name: string, build: (w: PacketWriter) => void = () => undefined): Promise<Reply> {
    return this.request(PacketType.EXTENDED, (w) => {
      w.string(name);
      build(w);
    });
  }

  // ---- typed helpers -------------------------------------------------------

  async open(path: string, pflags: number, attrs: Attrs = {}): Promise<string> {
    return handleOf(
      await this.request(PacketType.OPEN, (w) => w.string(path).u32(pflags).attrs(attrs)),
    );
  }

  async close(handle: string): Promise<void> {
    expectOk(await this.request(PacketType.CLOSE, (w) => w.string(handle)));
  }

  async write(handle: string, offset: number, data: Buffer): Promise<void> {
    expectOk(await this.request(PacketType.WRITE, (w) => w.string(handle).u64(offset).bytes(data)));
  }

  async read(handle: string, offset: number, length: number): Promise<Buffer | undefined> {
    const r = await this.request(PacketType.READ, (w) => w.string(handle).u64(offset).u32(length));
    if (r.type === PacketType.STATUS) {
      const s = statusOf(r);
      if (s.code === Status.EOF) return undefined;
      throw new SftpStatusError(s.code, s.message);
    }
    if (r.type !== PacketType.DATA) throw new Error(`expected DATA, got type ${r.type}`);
    return Buffer.from(r.reader.bytes());
  }

  /** Ends the channel and waits for it to close. */
  async end(): Promise<void> {
    this.channel.end();
    await this.closed;
  }
}

/** The STATUS of a reply (throws when the reply is something else). */
export function statusOf(r: Reply): StatusReply {
  if (r.type !== PacketType.STATUS) throw new Error(`expected STATUS, got type ${r.type}`);
  return { code: r.reader.u32(), message: r.reader.string() };
}

export function expectOk(r: Reply): void {
  const s = statusOf(r);
  if (s.code !== Status.OK) throw new SftpStatusError(s.code, s.message);
}

export function handleOf(r: Reply): string {
  if (r.type === PacketType.STATUS) {
    const s = statusOf(r);
    throw new SftpStatusError(s.code, s.message);
  }
  if (r.type !== PacketType.HANDLE) throw new Error(`expected HANDLE, got type ${r.type}`);
  return r.reader.string();
}

/** The names of a NAME reply. */
export function namesOf(r: Reply): Array<{ filename: string; longname: string; attrs: Attrs }> {
  if (r.type === PacketType.STATUS) {
    const s = statusOf(r);
    throw new SftpStatusError(s.code, s.message);
  }
  if (r.type !== PacketType.NAME) throw new Error(`expected NAME, got type ${r.type}`);
  const count = r.reader.u32();
  const out = [];
  for (let i = 0; i < count; i++) {
    out.push({ filename: r.reader.string(), longname: r.reader.string(), attrs: r.reader.attrs() });
  }
  return out;
}

/** The reader of an EXTENDED_REPLY, positioned at its payload. */
export function extendedOf(r: Reply): PacketReader {
  if (r.type === PacketType.STATUS) {
    const s = statusOf(r);
    throw new SftpStatusError(s.code, s.message);
  }
  if (r.type !== PacketType.EXTENDED_REPLY)
    throw new Error(`expected EXTENDED_REPLY, got type ${r.type}`);
  return r.reader;
}
