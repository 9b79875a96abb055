/**
 * The upload ledger: for each file a user uploads, how many bytes arrived
 * contiguously from offset 0 and the MD5 of those bytes. A writer that starts
 * at 0 and goes forward has its bytes hashed as they arrive (on a background
 * thread), so after a dropped connection the prefix digest is known without
 * reading the file again.
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import type { Store, UploadRecord } from '../store/types';
import type { VFile, WriteObserver } from './vfile';
import type { UserFsHooks } from './homes';
import { BackgroundMd5 } from './background-md5';

/**
 * Uploads smaller than this leave no record: resuming or checksumming them
 * costs little without one, and writing the record (a SQLite transaction on
 * the event loop) for each file of a `put -r` of many small files was a
 * noticeable share of each CLOSE's latency.
 */
export const MIN_RECORDED_BYTES = 1024 * 1024;

/** The file an observer watches, as UserFs opened it. */
export interface ObservedFile {
  /** Bytes in the file when it was opened (0 after a truncate). */
  size: number;
  fd: number;
  /** Whether `fd` can be read (files are opened read-write for this when allowed). */
  fdReadable: boolean;
}

/** A finished upload whose digest the background thread is still computing. */
interface DeferredHash {
  /** The upload's descriptor, now the ledger's to close. */
  fd: number;
  stream: number;
  /** The file as its last write left it. */
  size: number;
  mtimeMs: number;
}

/** A deferred hash, under the path its file has now (renames move it). */
interface PendingHash {
  user: string;
  path: string;
  /** The file's mtime to record (SETSTAT may move it meanwhile). */
  mtimeMs: number;
  cancelled: boolean;
  done: Promise<void>;
}

/**
 * Finished uploads whose digest may still be in progress at once. Each holds
 * its descriptor open; beyond this many, a CLOSE waits for its own digest.
 */
const MAX_DEFERRED = 32;

/**
 * Follows one writable handle and, for an upload that goes forward from
 * offset 0, ends with the MD5 of the whole file. Nothing is hashed until the
 * upload passes MIN_RECORDED_BYTES (smaller ones get no record); then the
 * background thread hashes the file from 0, reading back what is already
 * written, and keeps up as further writes finish. When the descriptor cannot
 * be read (a write-only file the server may not read), the bytes are hashed
 * on the event loop as they arrive instead.
 */
class PrefixHasher implements WriteObserver {
  /** False once the writes stop being one forward sequence from 0. */
  private valid: boolean;
  /** End of the bytes that arrived, in arrival order, contiguously from 0. */
  private arrived = 0;
  /** End of the bytes written to disk contiguously from 0. */
  private done = 0;
  /** Writes that finished ahead of an earlier one still running: offset → end. */
  private readonly ahead = new Map<number, number>();
  private inline: Hash | undefined;
  private stream: number | undefined;
  /** Answers the thread still owes before the descriptor may be closed. */
  private readonly owed: Array<Promise<unknown>> = [];
  private md5: string | undefined;

  constructor(
    private readonly file: ObservedFile,
    private readonly background: BackgroundMd5,
    private readonly save: (bytes: number, md5: string, size: number, mtimeMs: number) => void,
    private readonly forget: () => void,
    private readonly defer: (job: DeferredHash) => boolean,
  ) {
    // A file opened on existing bytes (OpenSSH reput, the resume extension)
    // cannot continue a digest: Node's hashes cannot be restored from one.
    this.valid = file.size === 0;
    if (this.valid && !file.fdReadable) this.inline = createHash('md5');
  }

  beforeWrite(offset: number, data: Buffer): void {
    if (!this.valid) return;
    if (offset !== this.arrived) {
      // Out of order or a rewrite: the digest would no longer describe the file.
      this.invalidate();
      return;
    }
    this.inline?.update(data);
    this.arrived += data.length;
  }

  written(offset: number, length: number): void {
    if (!this.valid || this.inline) return;
    if (offset !== this.done) {
      this.ahead.set(offset, offset + length);
      return;
    }
    this.done = offset + length;
    for (let end = this.ahead.get(this.done); end !== undefined; end = this.ahead.get(this.done)) {
      this.ahead.delete(this.done);
      this.done = end;
    }
    if (this.stream !== undefined) this.background.extend(this.stream, this.done);
    else if (this.done >= MIN_RECORDED_BYTES) {
      this.stream = this.background.open(this.file.fd, this.done);
      if (this.stream === undefined) this.invalidate();
    }
  }

  writeFailed(): void {
    this.invalidate();
  }

  resized(size: number): void {
    if (size === 0) {
      this.invalidate();
      this.valid = true;
      if (!this.file.fdReadable) this.inline = createHash('md5');
    } else if (size !== this.arrived) this.invalidate();
  }

  handOff(size: number, mtimeMs: number): boolean {
    if (!this.valid || this.stream === undefined || this.arrived !== size || this.owed.length > 0)
      return false;
    const job: DeferredHash = { fd: this.file.fd, stream: this.stream, size, mtimeMs };
    if (!this.defer(job)) return false;
    this.stream = undefined;
    return true;
  }

  async settle(): Promise<void> {
    if (this.valid && this.stream !== undefined) {
      const reply = await this.background.finish(this.stream, true);
      this.stream = undefined;
      if (reply.md5 !== undefined && reply.bytes === this.arrived) this.md5 = reply.md5;
      else this.valid = false;
    } else if (this.valid && this.inline) {
      this.md5 = this.inline.digest('hex');
      this.inline = undefined;
    }
    await Promise.all(this.owed);
  }

  closed(size: number, mtimeMs: number): void {
    if (this.valid && this.md5 !== undefined && this.arrived === size && size >= MIN_RECORDED_BYTES)
      this.save(size, this.md5, size, mtimeMs);
    else this.forget();
  }

  private invalidate(): void {
    this.valid = false;
    this.inline = undefined;
    this.arrived = 0;
    this.done = 0;
    this.ahead.clear();
    if (this.stream !== undefined) this.owed.push(this.background.drop(this.stream));
    this.stream = undefined;
  }
}

/** True when `p` is `dir` or below it. */
function isAtOrUnder(p: string, dir: string): boolean {
  return p === dir || p.startsWith(`${dir}/`);
}

export class UploadLedger {
  private readonly background = new BackgroundMd5();
  /**
   * Per user, the paths that have a record, loaded on the user's first
   * session. Most files have none (uploads under 1 MiB, downloads), and each
   * open, close, rename or remove of a file would otherwise cost a SQLite
   * write transaction just to delete nothing, which shows in the
   * CLOSE-to-OPEN time of small files in `put -r` (figures in docs/performance.md).
   */
  private readonly known = new Map<string, Set<string>>();
  private readonly pending = new Set<PendingHash>();
  private closing = false;

  constructor(private readonly store: Store) {}

  /** Stops the hashing thread (server shutdown); digests still in progress are dropped. */
  async close(): Promise<void> {
    this.closing = true;
    for (const p of this.pending) p.cancelled = true;
    await this.background.close();
    await Promise.all([...this.pending].map((p) => p.done));
  }

  private pathsOf(user: string): Set<string> {
    let set = this.known.get(user);
    if (!set) {
      set = new Set(this.store.uploads.paths(user));
      this.known.set(user, set);
    }
    return set;
  }

  private forget(user: string, path: string): void {
    const set = this.pathsOf(user);
    if (!set.has(path)) return;
    this.store.uploads.delete(user, path);
    set.delete(path);
  }

  private moved(user: string, from: string, to: string): void {
    const set = this.pathsOf(user);
    const touched = [...set].some((p) => isAtOrUnder(p, from) || isAtOrUnder(p, to));
    if (!touched) return;
    this.store.uploads.rename(user, from, to);
    this.known.set(user, new Set(this.store.uploads.paths(user)));
  }

  /** The UserFs hooks that keep the ledger up to date for `user`. */
  hooks(user: string): UserFsHooks {
    this.pathsOf(user);
    return {
      observe: (path, file) =>
        new PrefixHasher(
          file,
          this.background,
          (bytes, md5, fileSize, fileMtimeMs) =>
            this.record({ user, path, bytes, md5, fileSize, fileMtimeMs }),
          () => this.forget(user, path),
          (job) => this.deferHash(user, path, job),
        ),
      onPathGone: (path) => {
        this.cancelPending(user, path);
        this.forget(user, path);
      },
      onPathMoved: (from, to) => {
        for (const p of this.pending) {
          if (p.user !== user) continue;
          // Whatever the rename replaced is gone; what it moved keeps its digest.
          if (isAtOrUnder(p.path, to)) p.cancelled = true;
          else if (isAtOrUnder(p.path, from)) p.path = to + p.path.slice(from.length);
        }
        this.moved(user, from, to);
      },
      onTimesSet: (path, before, mtimeMs) => this.timesSet(user, path, before, mtimeMs),
    };
  }

  /** New times on a file whose content is unchanged: its record stays current. */
  private timesSet(
    user: string,
    path: string,
    before: { size: number; mtimeMs: number },
    mtimeMs: number,
  ): void {
    for (const p of this.pending) {
      if (p.user === user && p.path === path && p.mtimeMs === before.mtimeMs) p.mtimeMs = mtimeMs;
    }
    if (!this.pathsOf(user).has(path)) return;
    const rec = this.current(user, path, before);
    if (rec) this.store.uploads.put({ ...rec, fileMtimeMs: mtimeMs });
  }

  /**
   * Lets a CLOSE answer before the digest of its upload is ready: the thread
   * finishes it when it has CPU to spare, then the record is written under the
   * path the file has by then. False when too many are in progress.
   */
  private deferHash(user: string, path: string, job: DeferredHash): boolean {
    if (this.pending.size >= MAX_DEFERRED || this.closing) return false;
    const entry: PendingHash = {
      user,
      path,
      mtimeMs: job.mtimeMs,
      cancelled: false,
      done: Promise.resolve(),
    };
    entry.done = this.background
      .finish(job.stream, false)
      .then((reply) => {
        if (entry.cancelled || reply.md5 === undefined || reply.bytes !== job.size) return;
        // Recorded with the size and mtime the upload left: if anything wrote
        // to the file since, its mtime moved on and current() ignores the record.
        this.record({
          user,
          path: entry.path,
          bytes: job.size,
          md5: reply.md5,
          fileSize: job.size,
          fileMtimeMs: entry.mtimeMs,
        });
      })
      .catch(() => undefined)
      // Off the event loop, as VFile closes large uploads: ext4 may start writeback on close.
      .then(() => new Promise<void>((resolve) => fs.close(job.fd, () => resolve())))
      .finally(() => {
        this.pending.delete(entry);
      });
    this.pending.add(entry);
    return true;
  }

  private cancelPending(user: string, path: string): void {
    for (const p of this.pending) if (p.user === user && p.path === path) p.cancelled = true;
  }

  /**
   * Waits until the digest of an upload to `path` that finished moments ago is
   * recorded (resume and check-file read the ledger right after).
   */
  async settled(user: string, path: string): Promise<void> {
    const waits = [...this.pending].filter((p) => p.user === user && p.path === path);
    if (waits.length === 0) return;
    // Someone is waiting now: the thread runs at normal priority until done.
    await Promise.all(waits.map((p) => this.background.hurry(p.done)));
  }

  /**
   * The MD5 of the whole of an open file from its record, when the record
   * describes the file as it is (a digest still being finished is waited
   * for): the check a client makes right after an upload then reads nothing.
   * `length` other than 0 must be the file's size.
   */
  async wholeMd5(user: string, file: VFile, length = 0): Promise<Buffer | undefined> {
    await this.settled(user, file.virtualPath);
    const st = await file.stat();
    if (length !== 0 && length !== st.size) return undefined;
    const rec = this.current(user, file.virtualPath, st);
    return rec && rec.bytes === st.size ? Buffer.from(rec.md5, 'hex') : undefined;
  }

  /** The record for a file, if it still describes the file as it is on disk. */
  current(
    user: string,
    path: string,
    file: { size: number; mtimeMs: number },
  ): UploadRecord | undefined {
    if (!this.pathsOf(user).has(path)) return undefined;
    const rec = this.store.uploads.get(user, path);
    if (!rec) return undefined;
    if (rec.fileSize !== file.size || rec.fileMtimeMs !== file.mtimeMs) return undefined;
    return rec;
  }

  record(rec: Omit<UploadRecord, 'updatedAt'>): void {
    this.store.uploads.put(rec);
    this.pathsOf(rec.user).add(rec.path);
  }
}
