/**
 * Wire encoding of SFTP v3: uint32/uint64 big-endian, length-prefixed strings,
 * and ATTRS. Used by the server session and by MiniFTP's own client.
 */
import { MiniftpError } from '../errors';
import { AttrFlag } from './constants';

export interface Attrs {
  size?: number;
  uid?: number;
  gid?: number;
  /** Full st_mode (type bits included) when sent by the server. */
  permissions?: number;
  /** Seconds since the epoch. */
  atime?: number;
  mtime?: number;
  extended?: Array<[string, Buffer]>;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Joined bodies up to this size are left to Node's allocator (they are not transfer data). */
const POOLED_MIN = 64 * 1024;

/**
 * A packet that cannot be parsed (truncated, impossible lengths). Nothing
 * after it in the stream can be trusted, so the server answers it and closes
 * the channel, as OpenSSH's sftp-server exits on one.
 */
export class MalformedPacket extends MiniftpError {
  constructor(what: string) {
    super('bad-message', what);
    this.name = 'MalformedPacket';
  }
}

/** Reads one packet body; every method throws MalformedPacket past the end. */
export class PacketReader {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new MalformedPacket('packet is truncated');
  }

  u8(): number {
    this.need(1);
    const v = this.buf[this.pos] as number;
    this.pos += 1;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /**
   * A uint64 as a number. Values past 2^53 - 1 are valid on the wire but
   * beyond any file here: the request is refused (FAILURE), the session goes on.
   */
  u64(): number {
    const v = this.u64OrUndefined();
    if (v === undefined) throw MiniftpError.invalid('64-bit value too large (at most 2^53 - 1)');
    return v;
  }

  /** A uint64, or undefined past 2^53 - 1 (a READ that far is simply past the end). */
  u64OrUndefined(): number | undefined {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v > MAX_SAFE ? undefined : Number(v);
  }

  /** A string as raw bytes (a view, not a copy). */
  bytes(): Buffer {
    const len = this.u32();
    this.need(len);
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }

  string(): string {
    return this.bytes().toString('utf8');
  }

  /**
   * A path string: NUL bytes are refused here so no layer below ever sees one
   * (PERMISSION_DENIED, like every other path the jail will not touch).
   */
  path(): string {
    const raw = this.bytes();
    if (raw.includes(0)) throw MiniftpError.permission('path contains a NUL byte');
    return raw.toString('utf8');
  }

  attrs(): Attrs {
    const flags = this.u32();
    const a: Attrs = {};
    if (flags & AttrFlag.SIZE) a.size = this.u64();
    if (flags & AttrFlag.UIDGID) {
      a.uid = this.u32();
      a.gid = this.u32();
    }
    if (flags & AttrFlag.PERMISSIONS) a.permissions = this.u32();
    if (flags & AttrFlag.ACMODTIME) {
      a.atime = this.u32();
      a.mtime = this.u32();
    }
    if (flags & AttrFlag.EXTENDED) {
      const count = this.u32();
      // Each pair takes at least 8 bytes: refuse counts the packet cannot hold.
      if (count * 8 > this.remaining) throw new MalformedPacket('extended attribute count');
      a.extended = [];
      for (let i = 0; i < count; i++) a.extended.push([this.string(), this.bytes()]);
    }
    return a;
  }

  rest(): Buffer {
    const v = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return v;
  }
}

/** Builds one packet: `uint32 length` is filled in by `finish()`. */
export class PacketWriter {
  private buf: Buffer;
  private pos = 4;

  constructor(type: number, sizeHint = 64) {
    this.buf = Buffer.allocUnsafe(Math.max(sizeHint, 16));
    this.u8(type);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.pos++] = v;
    return this;
  }

  u32(v: number): this {
    this.room(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  u64(v: number): this {
    this.room(8);
    this.buf.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(v))), this.pos);
    this.pos += 8;
    return this;
  }

  bytes(v: Buffer): this {
    this.u32(v.length);
    this.room(v.length);
    v.copy(this.buf, this.pos);
    this.pos += v.length;
    return this;
  }

  string(v: string): this {
    const len = Buffer.byteLength(v);
    this.u32(len);
    this.room(len);
    this.buf.write(v, this.pos, 'utf8');
    this.pos += len;
    return this;
  }

  raw(v: Buffer): this {
    this.room(v.length);
    v.copy(this.buf, this.pos);
    this.pos += v.length;
    return this;
  }

  attrs(a: Attrs): this {
    let flags = 0;
    if (a.size !== undefined) flags |= AttrFlag.SIZE;
    if (a.uid !== undefined && a.gid !== undefined) flags |= AttrFlag.UIDGID;
    if (a.permissions !== undefined) flags |= AttrFlag.PERMISSIONS;
    if (a.atime !== undefined && a.mtime !== undefined) flags |= AttrFlag.ACMODTIME;
    if (a.extended && a.extended.length > 0) flags |= AttrFlag.EXTENDED;
    this.u32(flags);
    if (a.size !== undefined) this.u64(a.size);
    if (flags & AttrFlag.UIDGID) this.u32(a.uid ?? 0).u32(a.gid ?? 0);
    if (a.permissions !== undefined) this.u32(a.permissions);
    if (flags & AttrFlag.ACMODTIME) this.u32(a.atime ?? 0).u32(a.mtime ?? 0);
    if (flags & AttrFlag.EXTENDED && a.extended) {
      this.u32(a.extended.length);
      for (const [k, v] of a.extended) this.string(k).bytes(v);
    }
    return this;
  }

  finish(): Buffer {
    this.buf.writeUInt32BE(this.pos - 4, 0);
    return this.buf.subarray(0, this.pos);
  }
}

/**
 * Reusable buffers of one size for the big packets of a transfer (READ replies,
 * joined WRITE bodies). Allocating a fresh 256 KiB Buffer per packet leaves
 * tens of MiB of dead backing stores until the next GC, and glibc keeps the
 * freed pages, so the server's RSS grew with every transfer.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  /** The backing stores this pool handed out: only those are taken back. */
  private readonly mine = new WeakSet<ArrayBufferLike>();

  constructor(
    readonly size: number,
    /** Free buffers kept for reuse; any beyond are left to the GC. */
    private readonly keep: number,
  ) {}

  /** A buffer of `size` bytes; its contents are whatever it held before. */
  get(): Buffer {
    const reused = this.free.pop();
    if (reused) return reused;
    // Not allocUnsafe's shared slab: the buffer must own its backing store.
    const buf = Buffer.allocUnsafeSlow(this.size);
    this.mine.add(buf.buffer);
    return buf;
  }

  /** True when `view` lies in a buffer from get(). */
  owns(view: Buffer): boolean {
    return this.mine.has(view.buffer);
  }

  /** Takes back a buffer from get() (or any view of one); the caller must hold no view of it after. */
  release(view: Buffer): void {
    if (!this.owns(view) || this.free.length >= this.keep) return;
    this.free.push(Buffer.from(view.buffer, 0, this.size));
  }

  /** Drops the free buffers (the session ended). */
  clear(): void {
    this.free.length = 0;
  }
}

/**
 * Splits a byte stream into SFTP packets without quadratic copying: chunks are
 * kept as received and joined only once a whole packet is present. With a
 * pool, bodies that must be joined and fit its buffers are joined into one of
 * them; the caller releases it when done with the body.
 */
export class PacketFramer {
  private chunks: Buffer[] = [];
  private total = 0;

  constructor(
    private readonly maxPacket: number,
    private readonly pool?: BufferPool,
  ) {}

  get buffered(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** The next whole packet body (type byte onwards), or undefined if more bytes are needed. */
  next(): Buffer | undefined {
    if (this.total < 4) return undefined;
    const len = this.peekLength();
    if (len > this.maxPacket) {
      throw new MalformedPacket(`packet of ${len} bytes exceeds the limit of ${this.maxPacket}`);
    }
    if (len < 5)
      throw new MalformedPacket(`packet of ${len} byte${len === 1 ? '' : 's'} is too short`);
    if (this.total < 4 + len) return undefined;
    this.take(4);
    return this.take(len);
  }

  private peekLength(): number {
    const first = this.chunks[0] as Buffer;
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.alloc(4);
    let got = 0;
    for (const c of this.chunks) {
      const n = Math.min(4 - got, c.length);
      c.copy(head, got, 0, n);
      got += n;
      if (got === 4) break;
    }
    return head.readUInt32BE(0);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    this.total -= n;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const pooled = this.pool && n > POOLED_MIN && n <= this.pool.size;
    const out = pooled ? this.pool.get().subarray(0, n) : Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const c = this.chunks[0] as Buffer;
      const k = Math.min(n - got, c.length);
      c.copy(out, got, 0, k);
      got += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}
