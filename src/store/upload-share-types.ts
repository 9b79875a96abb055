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
}

/** The MD5 state of the first `bytes` bytes of an upload (hash-wasm's saved state). */
export interface UploadCheckpoint {
  readonly bytes: number;
  readonly state: Uint8Array;
}

export interface UploadShareStore {
  /**
   * Takes the writer lease of `path` for `holder` for `leaseMs`, unless another holder's lease
   * is still running; renews it when `holder` has it already.
   */
  takeLease(user: string, path: string, holder: string, leaseMs: number): Promise<LeaseState>;
  /** Gives the lease back, if `holder` has it. */
  releaseLease(user: string, path: string, holder: string): Promise<void>;
  /** Renews every lease `holder` has. */
  renewLeases(holder: string, leaseMs: number): Promise<void>;
  putCheckpoint(user: string, path: string, checkpoint: UploadCheckpoint): Promise<void>;
  getCheckpoint(user: string, path: string): Promise<UploadCheckpoint | undefined>;
  /** Forgets the checkpoints at `path` and below it (a directory). */
  dropCheckpoints(user: string, path: string): Promise<void>;
}
