/**
 * The upload ledger: for each file a user uploads, how many bytes arrived
 * contiguously from offset 0 and the MD5 of those bytes. A writer that starts
 * at 0 and goes forward hashes the bytes as they arrive, so after a dropped
 * connection the prefix digest is known without reading the file again.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Store, UploadRecord } from '../store/types';
import type { WriteObserver } from './vfile';
import type { UserFsHooks } from './homes';

/**
 * Uploads smaller than this leave no record: resuming or checksumming them
 * costs little without one, and writing the record (a SQLite transaction on
 * the event loop) for each file of a `put -r` of many small files was a
 * noticeable share of each CLOSE's latency.
 */
export const MIN_RECORDED_BYTES = 1024 * 1024;

class PrefixHasher implements WriteObserver {
  private hash: Hash | undefined;
  private hashed = 0;

  constructor(
    private readonly save: (bytes: number, md5: string, size: number, mtimeMs: number) => void,
    private readonly forget: () => void,
    fresh: boolean,
  ) {
    // A file opened on existing bytes (OpenSSH reput, the resume extension)
    // cannot continue a digest: Node's hashes cannot be restored from one.
    if (fresh) this.hash = createHash('md5');
  }

  beforeWrite(offset: number, data: Buffer): void {
    if (!this.hash) return;
    if (offset !== this.hashed) {
      // Out of order or a rewrite: the digest would no longer describe the file.
      this.hash = undefined;
      return;
    }
    this.hash.update(data);
    this.hashed += data.length;
  }

  writeFailed(): void {
    this.hash = undefined;
  }

  resized(size: number): void {
    if (size === 0) {
      this.hash = createHash('md5');
      this.hashed = 0;
    } else if (size !== this.hashed) this.hash = undefined;
  }

  closed(size: number, mtimeMs: number): void {
    if (this.hash && this.hashed === size && size >= MIN_RECORDED_BYTES)
      this.save(size, this.hash.digest('hex'), size, mtimeMs);
    else this.forget();
  }
}

export class UploadLedger {
  constructor(private readonly store: Store) {}

  /** The UserFs hooks that keep the ledger up to date for `user`. */
  hooks(user: string): UserFsHooks {
    const uploads = this.store.uploads;
    return {
      observe: (path, file) =>
        new PrefixHasher(
          (bytes, md5, fileSize, fileMtimeMs) =>
            uploads.put({ user, path, bytes, md5, fileSize, fileMtimeMs }),
          () => uploads.delete(user, path),
          file.size === 0,
        ),
      onPathGone: (path) => uploads.delete(user, path),
      onPathMoved: (from, to) => uploads.rename(user, from, to),
    };
  }

  /** The record for a file, if it still describes the file as it is on disk. */
  current(
    user: string,
    path: string,
    file: { size: number; mtimeMs: number },
  ): UploadRecord | undefined {
    const rec = this.store.uploads.get(user, path);
    if (!rec) return undefined;
    if (rec.fileSize !== file.size || rec.fileMtimeMs !== file.mtimeMs) return undefined;
    return rec;
  }

  record(rec: Omit<UploadRecord, 'updatedAt'>): void {
    this.store.uploads.put(rec);
  }
}
