/**
 * The quota contract: everything the layers above quota (vfs, sftp, admin, the
 * server) may ask of it, and nothing about how it is kept. They import only
 * these types; the composition root (src/main/start.ts) alone chooses the
 * implementation. Today's is in-process: QuotaManager (quota-manager.ts)
 * holding one UserUsage (user-usage.ts) per user.
 *
 * Every check is synchronous and answered from state the process already
 * holds: a WRITE is reserved, and refused or let through, in the turn of the
 * event loop that handles it, without waiting on a disk, a database or another
 * process. An implementation whose truth lives elsewhere (a shared store) must
 * keep a local grant to answer from, and settle with the store in the
 * background.
 *
 * The one refusal is QuotaExceeded (kind 'quota'); src/sftp/status.ts turns it
 * into FAILURE with its message, which holds the user's own figures ("quota
 * exceeded: 5 MiB of 5 MiB used", "… 3 of 3 files used") and never a path.
 * A refused reservation has taken nothing.
 *
 * What counts (see the invariant in user-usage.ts): every name below the home,
 * the home itself free; a regular file its size for each name, a directory
 * DIRECTORY_CHARGE, a symlink linkCharge(target), each also one file.
 */
import * as path from 'node:path';
import { MiniftpError } from '../errors';
import { formatSize } from '../config/size';

export interface QuotaLimits {
  /** 0 = unlimited. */
  readonly bytes: number;
  readonly files: number;
}

/** Bytes and files a user holds, as the ledger counts them. */
export interface Usage {
  readonly bytes: number;
  readonly files: number;
}

/** What a directory below the home is charged: one file and this many bytes (a block). */
export const DIRECTORY_CHARGE = 4096;

/**
 * What a symlink whose stored target is `stored` is charged, besides one
 * file: the length of its target as READLINK shows it. A target below the
 * home `home` (stored absolute by symlinkTarget, vfs/link-checks.ts) counts as its path from
 * the home, so the charge does not depend on where the home lies on the
 * server; any other target counts as stored. The charge depends on the
 * target text alone, so moving a link or the directories above it keeps it.
 */
export function linkCharge(stored: string, home: string): number {
  if (path.isAbsolute(stored)) {
    const resolved = path.resolve(stored);
    if (resolved === home) return 1;
    if (resolved.startsWith(home + path.sep)) {
      return Buffer.byteLength(resolved) - Buffer.byteLength(home);
    }
  }
  return Buffer.byteLength(stored);
}

export class QuotaExceeded extends MiniftpError {
  /** Bytes (or files) the refused operation would have added. */
  readonly attempted: number;
  readonly used: number;
  readonly limit: number;
  readonly unit: 'bytes' | 'files';

  constructor(o: { attempted: number; used: number; limit: number; unit: 'bytes' | 'files' }) {
    super(
      'quota',
      o.unit === 'bytes'
        ? `quota exceeded: ${formatSize(o.used)} of ${formatSize(o.limit)} used`
        : `quota exceeded: ${o.used} of ${o.limit} files used`,
    );
    this.attempted = o.attempted;
    this.used = o.used;
    this.limit = o.limit;
    this.unit = o.unit;
  }
}

/** What a walk of a home found, counted as the ledger counts (see ScanHome). */
export interface ScannedUsage {
  bytes: number;
  files: number;
  /** Files that were open for writing when visited, by device:inode: their size and names seen. */
  open: Map<string, { size: number; names: number }>;
  /**
   * What could not be measured (a directory its owner closed with chmod 000), as paths from
   * the home ("/hidden"): the figures above are then a floor, not the usage.
   */
  unreadable: string[];
}

/**
 * Walks the home of `user` on disk and counts what is below it, reporting the
 * files for which `isOpen(device:inode)` is true one by one. Passed to the
 * ledger by the composition root: quota knows no paths and no filesystem.
 */
export type ScanHome = (user: string, isOpen: (key: string) => boolean) => Promise<ScannedUsage>;

/**
 * One user's quota, shared by every session of that user. Files are named by
 * `key`, their device:inode, so all handles and names of one file share one
 * charge. Callers must make a reserved change on disk, or give it back, as
 * the method says; for MKDIR, SYMLINK, RMDIR and the removal of a symlink,
 * in the same turn of the event loop as the reservation or release.
 */
export interface UserQuota {
  readonly user: string;

  // Usage: what the user holds now, reservations included.

  /** statvfs@openssh.com shows them as a disk as large as the quota; so does the admin console. */
  readonly bytes: number;
  readonly files: number;
  /** The limits now in force; a change by the admin applies to open sessions at once. */
  readonly limits: QuotaLimits;

  // Reserve: synchronous, all or nothing; QuotaExceeded reaches the client as FAILURE.

  /**
   * OPEN with CREAT of a name that does not exist: one file, before the
   * file is made. Given back with releaseFile when the open then fails.
   */
  reserveFile(): void;

  /**
   * MKDIR, SYMLINK, and hard-link@openssh.com of a symlink: one file and
   * `bytes` (DIRECTORY_CHARGE or linkCharge), before the entry is made.
   * Given back with removeEntry when making it fails.
   */
  addEntry(bytes: number): void;

  /**
   * hard-link@openssh.com of a regular file: one file and the file's size
   * (`size` on disk, or what is charged for it while it is open), before the
   * name is made. Given back with removeName when making it fails.
   */
  addName(key: string, size: number): void;

  /**
   * WRITE (and copy-data, for its whole range before the first byte moves),
   * SETSTAT / FSETSTAT that grow a file: the growth of the open file `key` to
   * `end` bytes, before it reaches the disk. Below the size already charged,
   * nothing. Never waits: this is the check on the path of every WRITE.
   */
  growTo(key: string, end: number): void;

  // Commit: open files, whose charge follows them until the last handle closes.

  /**
   * OPEN for writing, SETSTAT size on a path: registers a handle on the file
   * `key` that has `size` bytes on disk and `links` names. Never refuses.
   * Every openFile is matched by one closeFile.
   */
  openFile(key: string, size: number, links: number): void;

  /**
   * The open file `key` was truncated or resized to `size` on disk (OPEN with
   * TRUNC, SETSTAT, FSETSTAT, resume-upload@miniftp). A growth must have been
   * reserved with growTo first.
   */
  setSize(key: string, size: number): void;

  /**
   * CLOSE (or the end of the session) of a handle from openFile, once its
   * writes have finished; `st` is the file as fstat shows it now (undefined
   * when that failed). The last handle makes the charge what the disk holds,
   * which may give back bytes reserved for writes that failed.
   */
  closeFile(key: string, st: { size: number; nlink: number } | undefined): void;

  /** The size charged for the open file `key` (where an APPEND write lands); undefined if not open. */
  chargedSize(key: string): number | undefined;

  /** True while some session of the user holds `key` open for writing (resume-upload@miniftp). */
  isOpen(key: string): boolean;

  /** Resolves once no session holds `key` open for writing any more (resume-upload@miniftp). */
  whenClosed(key: string): Promise<void>;

  // Release: never refuses.

  /** The file reserved with reserveFile could not be created after all. */
  releaseFile(): void;

  /** RMDIR, REMOVE of a symlink, a RENAME over either: the directory or symlink charged `bytes` is gone. */
  removeEntry(bytes: number): void;

  /**
   * REMOVE, a RENAME that replaced a file: a name of the file `key` (`size`
   * on disk) is gone. The last name of a file still open stays charged until
   * its last handle closes: its bytes are on the disk until then.
   */
  removeName(key: string, size: number): void;

  /** RENAME, REMOVE of anything else: names changed, charges did not (a usage scan running now starts over). */
  touched(): void;
}

/** Every user's quota: what the server, the admin console and the homes ask for. */
export interface QuotaLedger {
  /** The quota of `user`, shared by all their sessions (the homes hand it to each session's filesystem). */
  get(user: string): Promise<UserQuota>;

  /** Admin `quota NAME SIZE`: the limits changed in the store; applies to open sessions at once. */
  refreshLimits(user: string): Promise<void>;

  /** Admin `user add` / `user del`: forgets what is held for `user`. */
  drop(user: string): void;

  /**
   * Admin `user add`, `usage --rescan`: measures the home on disk and makes
   * that the usage; files open for writing keep their charge.
   */
  rescan(user: string): Promise<Usage>;

  /** At start-up, in the background: rescan of every user. */
  rescanAll(): Promise<void>;

  /** Begins writing usage to the store in the background. */
  start(): void;

  /** Stops the background work and writes what is pending (the server's close). */
  stop(): Promise<void>;
}
