/**
 * An open file of a user's jailed filesystem. Reads and writes are positional,
 * so many may be in flight at once; quota is reserved before a write that grows
 * the file starts, and close() waits for every write still running.
 */
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { MiniftpError, isErrno } from '../errors';
import type { UserUsage } from '../quota/user-usage';
import type { Attrs } from '../sftp/codec';

const fsRead = promisify(fs.read);
const fsWrite = promisify(fs.write);
const fsFstat = promisify(fs.fstat);
const fsClose = promisify(fs.close);
const fsFtruncate = promisify(fs.ftruncate);
const fsFsync = promisify(fs.fsync);
const fsFchmod = promisify(fs.fchmod);
const fsFutimes = promisify(fs.futimes);

/** Observes the bytes written to a file (the upload ledger plugs in here). */
export interface WriteObserver {
  /** Called synchronously, in arrival order, before the bytes go to disk. */
  beforeWrite(offset: number, data: Buffer): void;
  /** A write failed: what the observer saw may not be on disk. */
  writeFailed(offset: number): void;
  /** The file was truncated or resized to `size`. */
  resized(size: number): void;
  /** The last write finished and the handle is closing; `size`/`mtimeMs` are the file's now. */
  closed(size: number, mtimeMs: number): void;
}

export interface VFileOptions {
  fd: number;
  virtualPath: string;
  readable: boolean;
  writable: boolean;
  append: boolean;
  usage: UserUsage;
  /** device:inode, the key the quota ledger shares between handles of one file. */
  key: string;
  /** The file's size once opened (after any truncation). */
  size: number;
  observer?: WriteObserver;
}

export class VFile {
  readonly virtualPath: string;
  readonly readable: boolean;
  readonly writable: boolean;
  private readonly fd: number;
  private readonly append: boolean;
  private readonly usage: UserUsage;
  private readonly key: string;
  private readonly observer: WriteObserver | undefined;
  private inflight = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;
  bytesRead = 0;
  bytesWritten = 0;
  readonly openedAt = Date.now();

  constructor(o: VFileOptions) {
    this.fd = o.fd;
    this.virtualPath = o.virtualPath;
    this.readable = o.readable;
    this.writable = o.writable;
    this.append = o.append;
    this.usage = o.usage;
    this.key = o.key;
    this.observer = o.observer;
    if (this.writable) this.usage.openFile(this.key, o.size);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = (): void => {
      this.inflight.delete(p);
    };
    p.then(done, done);
    return p;
  }

  private checkOpen(): void {
    if (this.closing) throw MiniftpError.invalid('the handle is closed');
  }

  /** Reads up to `length` bytes at `offset` into `into` at `intoOffset`; 0 means end of file. */
  async read(offset: number, length: number, into: Buffer, intoOffset: number): Promise<number> {
    this.checkOpen();
    if (!this.readable) throw MiniftpError.permission('the file was not opened for reading');
    const { bytesRead } = await this.track(fsRead(this.fd, into, intoOffset, length, offset));
    this.bytesRead += bytesRead;
    return bytesRead;
  }

  async write(offset: number, data: Buffer): Promise<void> {
    this.checkOpen();
    if (!this.writable) throw MiniftpError.permission('the file was not opened for writing');
    // With O_APPEND the kernel ignores the offset: the file grows by the length whatever it is.
    const charged = this.usage.chargedSize(this.key) ?? 0;
    const end = this.append ? charged + data.length : offset + data.length;
    this.usage.growTo(this.key, end);
    this.observer?.beforeWrite(this.append ? charged : offset, data);
    try {
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await this.track(
          fsWrite(this.fd, data, done, data.length - done, this.append ? null : offset + done),
        );
        if (bytesWritten === 0) throw MiniftpError.noSpace();
        done += bytesWritten;
      }
      this.bytesWritten += data.length;
    } catch (err) {
      this.observer?.writeFailed(offset);
      // The disk may hold less than was charged: reconcile with what it says.
      const st = await fsFstat(this.fd).catch(() => undefined);
      if (st) this.usage.setSize(this.key, st.size);
      if (isErrno(err) && (err.code === 'ENOSPC' || err.code === 'EDQUOT'))
        throw MiniftpError.noSpace();
      throw err;
    }
  }

  async stat(): Promise<fs.Stats> {
    this.checkOpen();
    return this.track(fsFstat(this.fd));
  }

  /** FSETSTAT: size (quota-checked), permissions, times. uid/gid are ignored. */
  async setAttrs(attrs: Attrs): Promise<void> {
    this.checkOpen();
    if (attrs.size !== undefined) {
      if (!this.writable) throw MiniftpError.permission('the file was not opened for writing');
      await this.truncate(attrs.size);
    }
    if (attrs.permissions !== undefined)
      await this.track(fsFchmod(this.fd, attrs.permissions & 0o777));
    if (attrs.atime !== undefined && attrs.mtime !== undefined) {
      await this.track(fsFutimes(this.fd, attrs.atime, attrs.mtime));
    }
  }

  async truncate(size: number): Promise<void> {
    const current = (await this.track(fsFstat(this.fd))).size;
    const charged = this.usage.chargedSize(this.key) ?? current;
    if (size > charged) this.usage.growTo(this.key, size);
    await this.track(fsFtruncate(this.fd, size));
    this.usage.setSize(this.key, size);
    this.observer?.resized(size);
  }

  async fsync(): Promise<void> {
    this.checkOpen();
    await this.track(fsFsync(this.fd));
  }

  /** Waits for the reads and writes still running, then closes. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    let st: fs.Stats | undefined;
    if (this.writable) st = await fsFstat(this.fd).catch(() => undefined);
    await fsClose(this.fd);
    if (this.writable) {
      this.usage.closeFile(this.key, st?.size);
      if (st) this.observer?.closed(st.size, st.mtimeMs);
    }
  }
}
