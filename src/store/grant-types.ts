/**
 * The store's part in quota across processes and nodes: escrow grants. Each
 * process (a holder) keeps, per user, a grant: bytes and files of the user's
 * remaining quota set aside for it alone, so that it can let writes through
 * without asking the store each time. The store keeps, per user:
 *
 *   usage + Σ live grants ≤ limit      (bytes and files, when the limit is not 0)
 *
 * A grant is live while its lease runs (an expiry the holder renews with each
 * settle); a holder that stopped renewing (a dead node) no longer holds
 * anything once its lease has run out.
 */

/**
 * A file the holder has open for writing, as the usage counts it once the settle has committed:
 * its charged size per name and its names in the home. Recorded on the holder's writer lease of
 * the file (the lease's file_key), so that the usage can be corrected from the disk if the
 * holder dies before its next settle (see upload-share-types.ts).
 */
export interface OpenCharge {
  readonly key: string;
  readonly size: number;
  readonly names: number;
  /**
   * The holder's last handle on the file closed before this settle: `size` is its size at the
   * close, and a lease the holder gave back meanwhile is deleted.
   */
  readonly closed?: boolean;
}

/** One settle of a holder with the store for one user, applied as one transaction. */
export interface GrantSettle {
  readonly user: string;
  /** Who holds the grant: node, process and start, unique per running process. */
  readonly holder: string;
  /**
   * Net change of the user's usage by this holder since its last settle (negative when it gave
   * back more than it took). What it added is taken from its grant.
   */
  readonly deltaBytes: number;
  readonly deltaFiles: number;
  /** More wanted on top of what the grant holds after the change; capped by what is free. */
  readonly wantBytes: number;
  readonly wantFiles: number;
  /** Give back whatever the grant holds (the holder is idle or stopping). */
  readonly release: boolean;
  /** The grant's lease from now on, in milliseconds. */
  readonly leaseMs: number;
  /** Files open (or closed since the last settle) whose charge is recorded on their leases. */
  readonly charges?: readonly OpenCharge[];
}

/** What the store holds for the user after a settle. */
export interface GrantSettled {
  readonly usageBytes: number;
  readonly usageFiles: number;
  /** 0 = unlimited. */
  readonly limitBytes: number;
  readonly limitFiles: number;
  /** What this holder's grant holds now. */
  readonly grantBytes: number;
  readonly grantFiles: number;
  /** What no live grant and no usage holds (0 when unlimited: nothing is reserved then). */
  readonly freeBytes: number;
  readonly freeFiles: number;
  /** The keys of `charges` recorded (a lease not taken yet, or taken by another, records none). */
  readonly recorded: readonly string[];
}

export interface GrantStore {
  /**
   * Applies the holder's change to the usage, renews its lease, and gives it
   * more (up to what is free) or takes back what it gives up. A lowered limit
   * takes back from the grant what no longer fits. Throws MiniftpError
   * 'not-found' when the user no longer exists.
   */
  settle(s: GrantSettle): Promise<GrantSettled>;
}
