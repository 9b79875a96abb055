/**
 * An open file of a user's jailed filesystem. Reads and writes are positional,
 * so many may be in flight at once; quota is reserved before a write that grows
 * the file starts, and close() waits for every write still running, then lets
 * the ledger reconcile its charge with the size on disk.
 */
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { MiniftpError, isErrno } from '../errors';
import { QuotaExceeded, type UserQuota } from '../quota/quota-ledger';
import type { FileAttrs } from './types';

const fsRead = promisify(fs.read);
const fsWrite = promisify(fs.write);
const fsFstat = promisify(fs.fstat);
const fsClose = promisify(fs.close);
const fsFtruncate = promisify(fs.ftruncate);
const fsFsync = promisify(fs.fsync);
const fsFchmod = promisify(fs.fchmod);
const fsFutimes = promisify(fs.futimes);

/** A handle that wrote fewer bytes than this is closed synchronously (see doClose). */
const SYNC_CLOSE_MAX_WRITTEN = 1024 * 1024;

/** Observes the bytes written to a file (the upload ledger plugs in here). */
export interface WriteObserver {
  /** Called synchronously, in arrival order, before the bytes go to disk. */
  beforeWrite(offset: number, data: Buffer): void;
  /** The bytes of one write are on disk (writes may finish out of order). */
  written(offset: number, length: number): void;
  /** A write failed: what the observer saw may not be on disk. */
  writeFailed(offset: number): void;
  /** The file was truncated or resized to `size`. */
  resized(size: number): void;
  /**
   * Every write has finished and the handle is closing without anyone waiting
   * on the observer: it may take the descriptor over (and close it later)
   * instead of making the close wait. False: not taken, settle() follows.
   */
  handOff?(size: number, mtimeMs: number): boolean;
  /** Every write has finished; resolves when the observer no longer uses the descriptor. */
  settle(): Promise<void>;
  /** The handle is closed; `size`/`mtimeMs` are the file's as its last write left it. */
  closed(size: number, mtimeMs: number): void;
}

export interface VFileOptions {
  fd: number;
  virtualPath: string;
  readable: boolean;
  writable: boolean;
  append: boolean;
  /**
   * The user's ledger. A writable file must already be registered there with
   * `usage.openFile(key, …)`; close() releases that registration.
   */
  usage: UserQuota;
  /** device:inode, the key the quota ledger shares between handles of one file. */
  key: string;
  observer?: WriteObserver;
  /** Called on the first quota refusal of this handle (one log line per upload, not per WRITE). */
  onQuotaExceeded?: (err: QuotaExceeded, virtualPath: string) => void;
}

export class VFile {
  readonly virtualPath: string;
  readonly readable: boolean;
  readonly writable: boolean;
  private readonly fd: number;
  private readonly append: boolean;
  private readonly usage: UserQuota;
  /** device:inode of the file. */
  readonly key: string;
  private readonly observer: WriteObserver | undefined;
  private readonly onQuotaExceeded: VFileOptions['onQuotaExceeded'];
  private quotaRefused = false;
  /** Set while a WRITE waits for quota being fetched (see reserveForWrite). */
  private quotaWait: Promise<void> | undefined;
  private inflight = new Set<Promise<unknown>>();
  /** The last append-mode write: the next one starts after it. */
  private appendTail: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | undefined;
  /** Bytes sent to the client in answer to READ (counted by the session, not by check-file's reads). */
  bytesSent = 0;
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
    this.onQuotaExceeded = o.onQuotaExceeded;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = (): void => {
      this.inflight.delete(p);
    };
    p.then(done, done);
    return p;
  }

  /**
   * Reserves quota for writing `length` bytes at `offset` before anything is
   * written (copy-data reserves its whole range up front this way); returns
   * the offset the bytes will land at.
   */
  reserveWrite(offset: number, length: number): number {
    // With O_APPEND the kernel ignores the offset: the file grows by the length whatever it is.
    const at = this.append ? (this.usage.chargedSize(this.key) ?? 0) : offset;
    this.reserveTo(at + length);
    return at;
  }

  /**
   * reserveWrite for a WRITE and copy-data, which may wait while the quota ledger fetches
   * more quota from a shared store (QuotaExceeded.pending). Writes after one
   * that waits wait behind it, so they still reach the disk in arrival order.
   */
  reserveForWrite(offset: number, length: number): number | Promise<number> {
    if (this.quotaWait === undefined) {
      try {
        return this.reserveWrite(offset, length);
      } catch (err) {
        if (!(err instanceof QuotaExceeded) || err.pending === undefined) throw err;
      }
    }
    const turn = (this.quotaWait ?? Promise.resolve()).then(async () => {
      for (;;) {
        try {
          return this.reserveWrite(offset, length);
        } catch (err) {
          if (!(err instanceof QuotaExceeded) || err.pending === undefined) throw err;
          await err.pending;
        }
      }
    });
    const tail = turn.then(
      () => undefined,
      () => undefined,
    );
    this.quotaWait = tail;
    void tail.then(() => {
      if (this.quotaWait === tail) this.quotaWait = undefined;
    });
    return this.track(turn);
  }

  private reserveTo(end: number): void {
    try {
      this.usage.growTo(this.key, end);
    } catch (err) {
      if (err instanceof QuotaExceeded && err.pending === undefined && !this.quotaRefused) {
        this.quotaRefused = true;
        this.onQuotaExceeded?.(err, this.virtualPath);
      }
      throw err;
    }
  }

  private checkOpen(): void {
    if (this.closing) throw MiniftpError.invalid('the handle is closed');
  }

  /** Reads up to `length` bytes at `offset` into `into` at `intoOffset`; 0 means end of file. */
  async read(offset: number, length: number, into: Buffer, intoOffset: number): Promise<number> {
    this.checkOpen();
    if (!this.readable) throw MiniftpError.permission('the file was not opened for reading');
    const { bytesRead } = await this.track(fsRead(this.fd, into, intoOffset, length, offset));
    return bytesRead;
  }

  async write(offset: number, data: Buffer): Promise<void> {
    this.checkOpen();
    if (!this.writable) throw MiniftpError.permission('the file was not opened for writing');
    const reserved = this.reserveForWrite(offset, data.length);
    const at = typeof reserved === 'number' ? reserved : await reserved;
    this.observer?.beforeWrite(at, data);
    try {
      if (this.append) {
        // The kernel appends in whatever order the thread pool runs the writes,
        // so appends are chained in arrival order, as OpenSSH's sftp-server
        // (one request at a time) applies them. OpenSSH's `reput` opens with
        // APPEND and pipelines its writes.
        const mine = this.appendTail.then(() => this.writeAll(data, undefined));
        this.appendTail = mine.catch(() => undefined);
        await this.track(mine);
      } else {
        await this.writeAll(data, offset);
      }
      this.bytesWritten += data.length;
      this.observer?.written(at, data.length);
    } catch (err) {
      this.observer?.writeFailed(offset);
      // The disk may now hold less than was charged. The charge stays until
      // close() reconciles it: lowering it here would free bytes that other
      // writes still in flight on this file have reserved.
      if (isErrno(err) && (err.code === 'ENOSPC' || err.code === 'EDQUOT'))
        throw MiniftpError.noSpace();
      throw err;
    }
  }

  /** Writes all of `data` at `offset` (undefined: at the end, O_APPEND). */
  private async writeAll(data: Buffer, offset: number | undefined): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.track(
        fsWrite(
          this.fd,
          data,
          done,
          data.length - done,
          offset === undefined ? null : offset + done,
        ),
      );
      if (bytesWritten === 0) throw MiniftpError.noSpace();
      done += bytesWritten;
    }
  }

  async stat(): Promise<fs.Stats> {
    this.checkOpen();
    return this.track(fsFstat(this.fd));
  }

  /** FSETSTAT: size (quota-checked), permissions, times. uid/gid are ignored. */
  async setAttrs(attrs: FileAttrs): Promise<void> {
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

  /** Sets the size; growth is reserved first, a failed truncate is reconciled at close. */
  async truncate(size: number): Promise<void> {
    this.checkOpen();
    if (!this.writable) throw MiniftpError.permission('the file was not opened for writing');
    for (;;) {
      try {
        this.reserveTo(size);
        break;
      } catch (err) {
        if (!(err instanceof QuotaExceeded) || err.pending === undefined) throw err;
        await this.track(err.pending);
      }
    }
    await this.track(fsFtruncate(this.fd, size));
    this.usage.setSize(this.key, size);
    this.observer?.resized(size);
  }

  async fsync(): Promise<void> {
    this.checkOpen();
    await this.track(fsFsync(this.fd));
  }

  /**
   * Waits for the reads and writes still running, then closes. Idempotent.
   * `handOff`: the client closed the handle (CLOSE), so the upload ledger may
   * finish its digest after this returns; otherwise (a dropped session) the
   * close waits for it, since a resume is likely to ask for it next.
   */
  close(options: { handOff?: boolean } = {}): Promise<void> {
    if (!this.closing) this.closing = this.doClose(options.handOff === true);
    return this.closing;
  }

  private async doClose(handOff: boolean): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    let st: fs.Stats | undefined;
    // Synchronous: a local fstat is far cheaper than a thread-pool round trip,
    // and OpenSSH's sftp waits for each CLOSE of a `put -r` before the next file.
    if (this.writable) {
      try {
        st = fs.fstatSync(this.fd);
      } catch {
        st = undefined;
      }
    }
    if (handOff && st && this.observer?.handOff?.(st.size, st.mtimeMs)) {
      // The ledger owns the descriptor now and closes it once the digest is done.
      this.usage.closeFile(this.key, st);
      return;
    }
    if (this.observer) await this.observer.settle();
    // Closing a file that took many bytes may start their writeback (ext4 does
    // after a truncate), so only that close stays off the event loop.
    if (this.bytesWritten >= SYNC_CLOSE_MAX_WRITTEN) await fsClose(this.fd);
    else fs.closeSync(this.fd);
    if (this.writable) {
      this.usage.closeFile(this.key, st);
      if (st) this.observer?.closed(st.size, st.mtimeMs);
    }
  }
}
