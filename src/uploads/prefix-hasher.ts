/**
 * Follows the writes of one upload and, when they go forward from offset 0,
 * ends with the MD5 of the whole file (see PrefixHasher).
 */
import { createHash, type Hash } from 'node:crypto';
import type { WrittenFile } from '../vfs/upload-tracker';
import type { WriteObserver } from '../vfs/vfile';
import type { BackgroundMd5, Md5State } from './background-md5';

/**
 * Uploads smaller than this leave no record: resuming or checksumming them
 * costs little without one, and writing the record (a SQLite transaction on
 * the event loop) for each file of a `put -r` of many small files was a
 * noticeable share of each CLOSE's latency.
 */
export const MIN_RECORDED_BYTES = 1024 * 1024;

/** A finished upload whose digest the background thread is still computing. */
export interface DeferredHash {
  /** The upload's descriptor, now the ledger's to close. */
  fd: number;
  stream: number;
  /** The file as its last write left it. */
  size: number;
  mtimeMs: number;
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
export class PrefixHasher implements WriteObserver {
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
  private savedCheckpoint = false;

  constructor(
    private readonly file: WrittenFile,
    private readonly background: BackgroundMd5,
    private readonly save: (bytes: number, md5: string, size: number, mtimeMs: number) => void,
    private readonly forget: () => void,
    private readonly defer: (job: DeferredHash) => boolean,
    /** Saves the digest's state every `every` bytes, for a resume in another process. */
    private readonly checkpoints?: {
      every: number;
      save: (c: Md5State) => void;
      /** The saved states no longer describe the file (a rewrite, a truncate). */
      drop: () => void;
    },
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
      const cp = this.checkpoints;
      const opened: number | undefined = this.background.open(
        this.file.fd,
        this.done,
        cp && {
          every: cp.every,
          onCheckpoint: (c) => {
            // A state from a stream since dropped describes bytes that may have changed.
            if (!this.valid || this.stream !== opened) return;
            this.savedCheckpoint = true;
            cp.save(c);
          },
        },
      );
      this.stream = opened;
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
    if (this.savedCheckpoint) this.checkpoints?.drop();
    this.savedCheckpoint = false;
    this.valid = false;
    this.inline = undefined;
    this.arrived = 0;
    this.done = 0;
    this.ahead.clear();
    if (this.stream !== undefined) this.owed.push(this.background.drop(this.stream));
    this.stream = undefined;
  }
}
