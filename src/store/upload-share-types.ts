/**
 * The store's part in uploads that resume on any node: who writes a file now
 * (a writer lease, one holder per file across all processes sharing the store)
 * and where the MD5 of an upload had got to (checkpoints of the digest's
 * state, which another process loads to go on from there).
 */

/** Who holds the writer lease of a file, as takeLease found it. */
export interface LeaseState {
  /** True when the caller holds the lease now (taken, renewed, or taken over from an expired one). */
  readonly taken: boolean;
  readonly holder: string;
  /** Milliseconds until the holder's lease runs out (by the store's clock). */
  readonly expiresInMs: number;
  /** Bytes added to the stored usage when the lease was taken over from a holder that is gone. */
  readonly corrected?: number;
}

/** A file as found on the disk: its device:inode and size. */
export interface DiskFile {
  readonly key: string;
  readonly size: number;
  /** The caller has the file open and writes to it from `size` on (an OPEN, not a resume asking). */
  readonly opened?: boolean;
}

/**
 * A writer lease that ran out while the stored usage counted `chargedSize` bytes (per name, for
 * `chargedNames` names) for the file `key` at `path`: its holder is gone without a last settle.
 */
export interface ExpiredLease {
  readonly user: string;
  readonly path: string;
  readonly holder: string;
  readonly key: string;
  readonly expiresAt: number;
  readonly chargedSize: number;
  readonly chargedNames: number;
  /** The size another process found when it opened the file while the lease ran, if one did. */
  readonly seenSize: number | undefined;
}

/** The MD5 state of the first `bytes` bytes of an upload (hash-wasm's saved state). */
export interface UploadCheckpoint {
  readonly bytes: number;
  readonly state: Uint8Array;
}

export interface UploadShareStore {
  /**
   * Takes the writer lease of `path` for `holder` for `leaseMs`, unless another holder's lease
   * is still running; renews it when `holder` has it already. `file`: the file the caller opened
   * (or is about to), as it found it before changing it. Taking over a lease that ran out whose
   * holder's charge for that same file was recorded adds `file.size` (or the `seenSize`) minus
   * the charge to the stored usage, in the same transaction. While another holder's lease runs,
   * the size an opener (`file.opened`) found is kept as its `seenSize` (the first opener's).
   */
  takeLease(
    user: string,
    path: string,
    holder: string,
    leaseMs: number,
    file?: DiskFile,
  ): Promise<LeaseState>;
  /**
   * Leases of other holders than `except` that ran out with a recorded charge (at most
   * `limit`): the usage of each is to be corrected with settleExpired.
   */
  expiredLeases(except: string, limit: number): Promise<ExpiredLease[]>;
  /**
   * Ends a lease found by expiredLeases: when it is still as found, and `file` (the file now at
   * its path, undefined when there is none) is the file it was for, adds the file's size (or the
   * seenSize) minus the charge to the stored usage, and deletes the lease, in one transaction.
   * Resolves to the bytes added, or undefined when the lease had changed (someone else ended or
   * took it) and nothing was done.
   */
  settleExpired(lease: ExpiredLease, file: DiskFile | undefined): Promise<number | undefined>;
  /**
   * Gives the lease back, if `holder` has it. `size`: the file's size at its close. When the
   * usage does not count that yet (the holder's next settle commits it), the lease stays, given
   * back, until that settle deletes it: should the holder die first, it is corrected like every other lease.
   * Another holder may take a lease given back at once, and corrects nothing.
   */
  releaseLease(user: string, path: string, holder: string, size?: number): Promise<void>;
  /** Renews every lease `holder` has. */
  renewLeases(holder: string, leaseMs: number): Promise<void>;
  putCheckpoint(user: string, path: string, checkpoint: UploadCheckpoint): Promise<void>;
  getCheckpoint(user: string, path: string): Promise<UploadCheckpoint | undefined>;
  /** Forgets the checkpoints at `path` and below it (a directory). */
  dropCheckpoints(user: string, path: string): Promise<void>;
}
