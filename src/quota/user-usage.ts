/**
 * One user's byte and file usage, shared by every session of that user, so that
 * concurrent writers together can never pass the quota. All checks are
 * synchronous: Node runs one request's check-and-reserve without interleaving.
 */
import { MiniftpError } from '../errors';
import { formatSize } from '../config/size';

export interface QuotaLimits {
  /** 0 = unlimited. */
  readonly bytes: number;
  readonly files: number;
}

/** Size as the ledger knows it for a file open for writing in any session. */
interface OpenFile {
  size: number;
  refs: number;
}

export class QuotaExceeded extends MiniftpError {
  constructor(
    message: string,
    readonly attempted: number,
  ) {
    super('quota', message);
  }
}

export class UserUsage {
  private openFiles = new Map<string, OpenFile>();
  /** Bumped on every change, so a background rescan can tell it raced a write. */
  generation = 0;
  private dirty = false;

  constructor(
    readonly user: string,
    public bytes: number,
    public files: number,
    public limits: QuotaLimits,
  ) {}

  get isDirty(): boolean {
    return this.dirty;
  }

  markClean(): void {
    this.dirty = false;
  }

  private changed(): void {
    this.generation++;
    this.dirty = true;
  }

  /** Free bytes under the quota, or Infinity when unlimited. */
  get freeBytes(): number {
    return this.limits.bytes > 0 ? Math.max(0, this.limits.bytes - this.bytes) : Infinity;
  }

  /** Takes `delta` bytes or throws QuotaExceeded without taking any. */
  reserve(delta: number): void {
    if (delta <= 0) return;
    if (this.limits.bytes > 0 && this.bytes + delta > this.limits.bytes) {
      throw new QuotaExceeded(
        `quota exceeded: ${formatSize(this.bytes)} of ${formatSize(this.limits.bytes)} used`,
        delta,
      );
    }
    this.bytes += delta;
    this.changed();
  }

  /** A new file is about to be created. */
  reserveFile(): void {
    if (this.limits.files > 0 && this.files + 1 > this.limits.files) {
      throw new QuotaExceeded(
        `quota exceeded: ${this.files} of ${this.limits.files} files used`,
        0,
      );
    }
    this.files += 1;
    this.changed();
  }

  /** Unchecked change: space given back, or a correction from what the disk says. */
  adjust(deltaBytes: number, deltaFiles = 0): void {
    if (deltaBytes === 0 && deltaFiles === 0) return;
    this.bytes = Math.max(0, this.bytes + deltaBytes);
    this.files = Math.max(0, this.files + deltaFiles);
    this.changed();
  }

  /** Replaces the figures with a fresh scan of the home. */
  reset(bytes: number, files: number): void {
    this.bytes = bytes;
    this.files = files;
    this.changed();
  }

  /**
   * Registers a write handle on the file `key` (device:inode) whose size is now
   * `size`. Handles of one file share one size, so two writers growing the same
   * file are charged once.
   */
  openFile(key: string, size: number): void {
    const f = this.openFiles.get(key);
    if (f) f.refs++;
    else this.openFiles.set(key, { size, refs: 1 });
  }

  /** The size the ledger has charged for an open file. */
  chargedSize(key: string): number | undefined {
    return this.openFiles.get(key)?.size;
  }

  /** Reserves what a write ending at `end` adds to the open file `key`. */
  growTo(key: string, end: number): void {
    const f = this.openFiles.get(key);
    if (!f || end <= f.size) return;
    this.reserve(end - f.size);
    f.size = end;
  }

  /** The file's size changed by other means (truncate, setstat): correct the charge. */
  setSize(key: string, size: number): void {
    const f = this.openFiles.get(key);
    if (!f) return;
    this.adjust(size - f.size);
    f.size = size;
  }

  /** Drops a handle; when it was the last one, reconciles the charge with the real size. */
  closeFile(key: string, realSize: number | undefined): void {
    const f = this.openFiles.get(key);
    if (!f) return;
    f.refs--;
    if (f.refs > 0) return;
    // Only the last handle reconciles: others may still have writes in flight.
    this.openFiles.delete(key);
    if (realSize !== undefined) this.adjust(realSize - f.size);
  }
}
