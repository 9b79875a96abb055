/**
 * The store's operational tables: the hook outbox, the login history, address rules and the
 * per-user transfer settings. Every call returns a Promise, so that a store on a database server
 * implements the same contract.
 */
export type HookState = 'pending' | 'delivered' | 'failed';

/** One event in the outbox. */
export interface HookRow {
  readonly id: number;
  /** e.g. "upload.completed". */
  readonly event: string;
  /** The event as JSON (without `id`, which is added on delivery). */
  readonly payload: string;
  /** ISO-8601. */
  readonly createdAt: string;
  readonly state: HookState;
  readonly attempts: number;
  /** Epoch ms of the next attempt while pending. */
  readonly nextAt: number;
  /** Node that holds the lease, if any. */
  readonly claimedBy: string | null;
  /** Epoch ms the lease ends. */
  readonly claimedUntil: number;
  readonly lastError: string | null;
  /** ISO-8601 once delivered. */
  readonly deliveredAt: string | null;
}

export interface HookOutbox {
  /** Adds a pending event due now; resolves with its id once it is stored. */
  add(event: string, payload: string, now: Date): Promise<number>;
  /**
   * Takes a lease of up to `limit` pending events that are due and not leased by a live node
   * (claimed_until < now): one UPDATE, so two nodes never claim the same row at once.
   */
  claim(node: string, now: number, leaseMs: number, limit: number): Promise<HookRow[]>;
  /** Ends every lease `node` holds (it starts again after a crash: it holds nothing now). */
  release(node: string): Promise<void>;
  /** Replaces the payload of an event this node holds (digests filled in before the first try). */
  setPayload(id: number, node: string, payload: string): Promise<void>;
  /** Marks an event this node holds as delivered. */
  delivered(id: number, node: string, at: Date): Promise<void>;
  /** An attempt failed: due again at `nextAt`, or kept as failed when `giveUp`. Releases the lease. */
  attemptFailed(
    id: number,
    node: string,
    error: string,
    nextAt: number,
    giveUp: boolean,
  ): Promise<void>;
  /** Newest first; `state` filters. */
  list(options: { state?: HookState; limit: number }): Promise<HookRow[]>;
  get(id: number): Promise<HookRow | undefined>;
  /** A failed (or pending) event is due again now with its attempts reset; false when no such row. */
  retry(id: number, now: number): Promise<boolean>;
  /** Removes delivered events older than `before`; resolves with how many. */
  prune(before: Date): Promise<number>;
}

export type LoginResult = 'ok' | 'failed' | 'refused';

export interface LoginRecord {
  /** ISO-8601. */
  readonly at: string;
  readonly user: string;
  readonly address: string;
  /** password, publickey, keyboard-interactive, none. */
  readonly method: string;
  readonly result: LoginResult;
  /** Why it failed or was refused; empty when ok. */
  readonly reason: string;
  /** The client's SSH identification line (software and version). */
  readonly client: string;
  readonly node: string;
}

export interface LoginHistory {
  add(record: LoginRecord): Promise<void>;
  /** Newest first. */
  query(options: {
    user?: string;
    since?: Date;
    failedOnly?: boolean;
    limit: number;
  }): Promise<LoginRecord[]>;
  /** Removes records older than `before`; resolves with how many. */
  prune(before: Date): Promise<number>;
}

export type AddressAction = 'allow' | 'deny';

export interface AddressRule {
  /** Empty: the global list. */
  readonly user: string;
  readonly action: AddressAction;
  /** Normalised CIDR, e.g. "10.0.0.0/8", "2001:db8::/32". */
  readonly cidr: string;
  readonly addedAt: string;
}

export interface AddressRules {
  /** False when the rule was there already. */
  add(rule: Omit<AddressRule, 'addedAt'>, at: Date): Promise<boolean>;
  /** False when there was no such rule. */
  remove(rule: Omit<AddressRule, 'addedAt'>): Promise<boolean>;
  /** Global rules first, then by user, action and CIDR. */
  list(): Promise<AddressRule[]>;
}

/** Per-user transfer settings; 0 means "no limit of its own". */
export interface UserLimits {
  readonly user: string;
  /** Bytes per second the user may upload, over all its sessions on a node. */
  readonly upBps: number;
  readonly downBps: number;
  /** Sessions at once; 0: the server's maxSessionsPerUser. */
  readonly maxSessions: number;
}

export interface UserLimitsStore {
  /** Every user with a setting. */
  list(): Promise<UserLimits[]>;
  get(user: string): Promise<UserLimits>;
  /** Throws MiniftpError('not-found') for an unknown user. */
  set(limits: UserLimits): Promise<void>;
}

export interface OpsStore {
  readonly hooks: HookOutbox;
  readonly logins: LoginHistory;
  readonly addresses: AddressRules;
  readonly userLimits: UserLimitsStore;
}
