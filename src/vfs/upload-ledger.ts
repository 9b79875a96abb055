/**
 * The upload ledger: for each file a user uploads, how many bytes arrived
 * contiguously from offset 0 and the MD5 of those bytes. A writer that starts
 * at 0 and goes forward has its bytes hashed as they arrive (on a background
 * thread), so after a dropped connection the prefix digest is known without
 * reading the file again.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Store, UploadRecord } from '../store/types';
import type { WriteObserver } from './vfile';
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

  async settle(): Promise<void> {
    if (this.valid && this.stream !== undefined) {
      const reply = await this.background.finish(this.stream);
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
   * write transaction just to delete nothing: a tenth of a small file's
   * CLOSE-to-OPEN time in `put -r`.
   */
  private readonly known = new Map<string, Set<string>>();

  constructor(private readonly store: Store) {}

  /** Stops the hashing thread (server shutdown). */
  close(): Promise<void> {
    return this.background.close();
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
        ),
      onPathGone: (path) => this.forget(user, path),
      onPathMoved: (from, to) => this.moved(user, from, to),
    };
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
