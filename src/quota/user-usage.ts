/**
 * One user's byte and file usage in this process's memory (the UserQuota of
 * quota-ledger.ts that QuotaManager hands out), shared by every session of that user, so that
 * concurrent writers together can never pass the quota. All checks are
 * synchronous: Node runs one request's check-and-reserve without interleaving.
 *
 * Usage counts every name below the home (the home itself is free): regular
 * files with their sizes, each name counted (a file with two hard links in the
 * home counts twice, as `du -l` does), and directories and symlinks as one
 * file each with a charge in bytes (DIRECTORY_CHARGE, linkCharge), so that
 * neither can be made without limit. The ledger holds, at every moment:
 *
 *   bytes = Σ closed files: size × names  +  Σ open files: charged size × max(names, 1)
 *         + Σ directories: DIRECTORY_CHARGE  +  Σ symlink names: linkCharge(target)
 *   files = names of regular files + directories + symlink names
 *
 * where an open file's charged size is the largest size any handle has
 * reserved so far (writes reserve before they reach the disk), and a file
 * whose last name was removed while open stays charged until its last handle
 * closes (its bytes are still on the disk until then). A directory or symlink
 * is reserved (addEntry) before it is made, and released (removeEntry) only
 * once it is gone. MKDIR, SYMLINK, RMDIR and REMOVE of a link make the change
 * on disk synchronously, in the same turn of the event loop as the
 * reservation or release, so a rescan (which starts over when `generation`
 * moved) sees both or neither. Renames change no charge, except that the name
 * a rename replaces is given back: a link's charge depends on its target
 * text only, not on where the link is.
 */
import { QuotaExceeded, type QuotaLimits, type ScannedUsage, type UserQuota } from './quota-ledger';

/** A file open for writing in any session of the user. */
interface OpenFile {
  /** Charged size: never below the size on disk while the file is open. */
  size: number;
  /** Names of the file in the home; 0 once the last one was removed. */
  links: number;
  refs: number;
}

function weight(f: OpenFile): number {
  return Math.max(f.links, 1);
}

/** The in-process UserQuota: the ledger lives in this process's memory, the store holds a copy. */
export class UserUsage implements UserQuota {
  private readonly openFiles = new Map<string, OpenFile>();
  private readonly closeWaiters = new Map<string, Array<() => void>>();
  /**
   * Bumped by every change a scan of the disk could see differently: path
   * operations and files opening or closing. Growth of open files does not
   * bump it, since a rescan takes their size from the ledger, not the disk.
   */
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

  /** A path changed in a way a running scan may have missed (rename, create, remove…). */
  touched(): void {
    this.generation++;
    this.dirty = true;
  }

  /** Free bytes under the quota, or Infinity when unlimited. */
  get freeBytes(): number {
    return this.limits.bytes > 0 ? Math.max(0, this.limits.bytes - this.bytes) : Infinity;
  }

  protected checkBytes(delta: number): void {
    if (delta > 0 && this.limits.bytes > 0 && this.bytes + delta > this.limits.bytes) {
      throw new QuotaExceeded({
        attempted: delta,
        used: this.bytes,
        limit: this.limits.bytes,
        unit: 'bytes',
      });
    }
  }

  protected checkFiles(delta: number): void {
    if (delta > 0 && this.limits.files > 0 && this.files + delta > this.limits.files) {
      throw new QuotaExceeded({
        attempted: delta,
        used: this.files,
        limit: this.limits.files,
        unit: 'files',
      });
    }
  }

  /** A new, empty file is about to be created: takes one file or throws QuotaExceeded. */
  reserveFile(): void {
    this.checkFiles(1);
    this.files += 1;
    this.touched();
  }

  /**
   * A directory or symlink charged `bytes` is about to be made: takes one file
   * and the bytes, or throws QuotaExceeded without taking either.
   */
  addEntry(bytes: number): void {
    this.checkFiles(1);
    this.checkBytes(bytes);
    this.files += 1;
    this.bytes += bytes;
    this.touched();
  }

  /** A directory or symlink charged `bytes` was removed (or could not be made): gives it back. */
  removeEntry(bytes: number): void {
    this.adjust(-bytes, -1);
  }

  releaseFile(): void {
    this.adjust(0, -1);
  }

  /** Unchecked change: space given back, or a correction from what the disk says. */
  adjust(deltaBytes: number, deltaFiles = 0): void {
    this.bytes = Math.max(0, this.bytes + deltaBytes);
    this.files = Math.max(0, this.files + deltaFiles);
    this.touched();
  }

  /**
   * Replaces the figures with a fresh scan of the home. Open files keep their
   * charged size (writes to them may be in flight), their names are taken from
   * the scan.
   */
  reset(scan: ScannedUsage): void {
    let bytes = scan.bytes;
    for (const [key, f] of this.openFiles) {
      const seen = scan.open.get(key);
      if (seen) {
        bytes += (f.size - seen.size) * seen.names;
        f.links = seen.names;
      } else if (f.links === 0) {
        // Removed while open: no name for the scan to find, but still on the disk.
        bytes += f.size;
      }
    }
    this.bytes = bytes;
    this.files = scan.files;
    this.touched();
  }

  /** True while some session of the user holds any file open for writing. */
  get hasOpenFiles(): boolean {
    return this.openFiles.size > 0;
  }

  /** True when some session holds `key` (device:inode) open for writing. */
  isOpen(key: string): boolean {
    return this.openFiles.has(key);
  }

  /** Resolves once no session holds `key` open for writing any more. */
  whenClosed(key: string): Promise<void> {
    if (!this.openFiles.has(key)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.closeWaiters.get(key) ?? [];
      list.push(resolve);
      this.closeWaiters.set(key, list);
    });
  }

  /** Every open file's charged size and names (a ledger that records them in a store). */
  protected openCharges(): Array<{ key: string; size: number; names: number }> {
    return [...this.openFiles].map(([key, f]) => ({ key, size: f.size, names: f.links }));
  }

  /** The names of the open file `key` in the home (undefined when it is not open). */
  protected namesOf(key: string): number | undefined {
    return this.openFiles.get(key)?.links;
  }

  /** The size the ledger has charged for an open file. */
  chargedSize(key: string): number | undefined {
    return this.openFiles.get(key)?.size;
  }

  /**
   * Registers a write handle on the file `key` (device:inode), whose size on
   * disk is `size` and which has `links` names. Handles of one file share one
   * charged size, so two writers growing the same file are charged once.
   */
  openFile(key: string, size: number, links: number): void {
    const f = this.openFiles.get(key);
    if (f) {
      f.refs++;
      return;
    }
    this.openFiles.set(key, { size, links, refs: 1 });
    this.touched();
  }

  /** Reserves what growing the open file `key` to `end` bytes adds, or throws QuotaExceeded. */
  growTo(key: string, end: number): void {
    const f = this.openFiles.get(key);
    if (!f || end <= f.size) return;
    const delta = (end - f.size) * weight(f);
    this.checkBytes(delta);
    this.bytes += delta;
    f.size = end;
    this.dirty = true;
  }

  /** The open file was truncated or resized to `size` (a growth must be reserved with growTo first). */
  setSize(key: string, size: number): void {
    const f = this.openFiles.get(key);
    if (!f || size === f.size) return;
    this.bytes = Math.max(0, this.bytes + (size - f.size) * weight(f));
    f.size = size;
    this.dirty = true;
  }

  /**
   * A new name for an existing file (hard link) is about to be made: takes a
   * file and the file's size, or throws QuotaExceeded without taking either.
   * `size` is the size on disk, used when the file is not open.
   */
  addName(key: string, size: number): void {
    const f = this.openFiles.get(key);
    const bytes = f ? f.size : size;
    this.checkFiles(1);
    this.checkBytes(bytes);
    this.files += 1;
    this.bytes += bytes;
    if (f) f.links++;
    this.touched();
  }

  /** A name of a file (size `size` on disk) was removed or replaced: gives its share back. */
  removeName(key: string, size: number): void {
    const f = this.openFiles.get(key);
    this.files = Math.max(0, this.files - 1);
    if (!f) this.bytes = Math.max(0, this.bytes - size);
    else if (f.links > 1) {
      this.bytes = Math.max(0, this.bytes - f.size);
      f.links--;
    } else {
      // The last name: the bytes stay on the disk, and charged, until the last handle closes.
      f.links = 0;
    }
    this.touched();
  }

  /**
   * Drops a handle; the last one reconciles the charge with the file as it is
   * now (`st` from fstat, undefined when that failed).
   */
  closeFile(key: string, st: { size: number; nlink: number } | undefined): void {
    const f = this.openFiles.get(key);
    if (!f) return;
    f.refs--;
    // Only the last handle reconciles: others may still have writes in flight.
    if (f.refs > 0) return;
    this.openFiles.delete(key);
    const charged = f.size * weight(f);
    let real: number;
    if (f.links === 0 || st?.nlink === 0) real = 0;
    else if (st) real = st.size * f.links;
    else real = charged;
    this.bytes = Math.max(0, this.bytes + real - charged);
    this.touched();
    const waiters = this.closeWaiters.get(key);
    this.closeWaiters.delete(key);
    for (const resolve of waiters ?? []) resolve();
  }
}
