/** The typed, frozen configuration every module receives (built by `load.ts`). Sizes are bytes. */
export interface Config {
  readonly host: string;
  readonly port: number;
  /** Absolute. Holds miniftp.db, docs/<user>/ and log/. */
  readonly dataDir: string;
  /** Absolute. Host keys, generated on first start. */
  readonly keysDir: string;
  /** System user (name or uid) the server becomes after binding the port; empty: no change. */
  readonly runAs: string;
  readonly admin: {
    readonly user: string;
    /** Only used to create the admin account on first start. */
    readonly password: string;
  };
  readonly demoUser: {
    /** Empty string: no demo user is created. */
    readonly name: string;
    readonly password: string;
  };
  readonly users: {
    /** Bytes; 0 = unlimited. */
    readonly defaultQuota: number;
    /** Files; 0 = unlimited. */
    readonly defaultFileQuota: number;
    /** Octal mode bits masked off new files and directories. */
    readonly umask: number;
  };
  readonly argon2: {
    readonly memoryKiB: number;
    readonly timeCost: number;
    readonly parallelism: number;
  };
  readonly log: {
    readonly level: 'debug' | 'info' | 'warn' | 'error';
    /** Human-readable lines on stdout as well as the JSON files. */
    readonly stdout: boolean;
  };
  readonly ssh: {
    /** Offer OpenSSH clients AES-GCM only, so they do not settle for a slower cipher. */
    readonly gcmForOpenssh: boolean;
  };
  readonly hashing: {
    /** Threads of the hashing pool; 0 = sized to the machine. */
    readonly threads: number;
    /** Hashing jobs (running or waiting) one user may have at once. */
    readonly maxJobsPerUser: number;
    /** Files one hash command over exec may name. */
    readonly maxPathsPerCommand: number;
  };
  readonly sharing: {
    /** Several processes share the data directory and its database. */
    readonly store: boolean;
    /** Seconds a grant or writer lease outlives a process that stopped renewing it. */
    readonly leaseTime: number;
    /** Bytes between two saved MD5 states of an upload. */
    readonly checkpointEvery: number;
  };
  /** Metrics, event hooks, login history (docs/operations.md). */
  readonly ops: {
    /** host:port of the metrics listener; empty: none. */
    readonly metricsListen: string;
    readonly metricsUserLabels: number;
    readonly hookCommand: string;
    readonly hookUrl: string;
    readonly hookSecret: string;
    /** Seconds. */
    readonly hookTimeout: number;
    /** Milliseconds before the first retry. */
    readonly hookRetryDelay: number;
    readonly hookMaxAttempts: number;
    /** Seconds. */
    readonly hookLease: number;
    readonly historyDays: number;
  };
  readonly store: {
    /** postgres://… of a database shared by every node; empty = SQLite in dataDir. */
    readonly url: string;
    /** Most PostgreSQL connections of this process. */
    readonly poolSize: number;
    /** Seconds a statement or a connection attempt may take. */
    readonly timeout: number;
  };
  readonly limits: {
    readonly maxConnections: number;
    readonly maxConnectionsPerIp: number;
    readonly maxUnauthenticated: number;
    readonly maxUnauthenticatedPerIp: number;
    /** Unauthenticated connections from which new ones are dropped at random. */
    readonly unauthenticatedDropStart: number;
    /** Percent dropped at unauthenticatedDropStart, rising to 100 at maxUnauthenticated. */
    readonly unauthenticatedDropRate: number;
    /** Seconds from TCP accept to a successful login. */
    readonly loginGraceTime: number;
    /** Seconds a logged-in connection may go unused (keepalives do not count); 0 = never. */
    readonly idleTimeout: number;
    readonly maxAuthTries: number;
    readonly maxSessionsPerUser: number;
    /** Session channels (SFTP, exec, shell) open at once on one connection. */
    readonly maxChannelsPerConnection: number;
    readonly maxHandlesPerSession: number;
    /** Handles of one user over all sessions; 0 = derived from the open-files limit. */
    readonly maxHandlesPerUser: number;
    /** Descriptors kept out of the handle budget; 0 = derived from maxConnections. */
    readonly reservedDescriptors: number;
    /** Bytes of directory listings one SFTP session may buffer; 0 = no limit. */
    readonly maxListingMemoryPerSession: number;
    /** Bytes of directory listings all sessions may buffer; 0 = no limit. */
    readonly maxListingMemory: number;
    /** Bytes of one SFTP packet body (length field excluded). */
    readonly maxPacket: number;
    /** SFTP requests being served at once on one channel before reading pauses. */
    readonly maxPendingRequests: number;
    /** Largest receive window of one SFTP channel, in bytes; 2 MiB or less keeps ssh2's. */
    readonly channelWindow: number;
    /** Bytes all SFTP channels' windows may promise together; 0 = derived from the memory. */
    readonly channelWindowBudget: number;
    /** Failed logins from one IP within banWindow seconds that trigger a ban. */
    readonly banThreshold: number;
    readonly banWindow: number;
    /** Seconds an IP stays banned. */
    readonly banTime: number;
    /** Failed password logins for one account from addresses it has not logged in from; 0 = off. */
    readonly accountLockThreshold: number;
    /** Seconds such an account stays locked for those addresses. */
    readonly accountLockTime: number;
  };
  readonly balancer: {
    /** Connections come from trustedProxies, each starting with a PROXY protocol header. */
    readonly proxyProtocol: boolean;
    /** Comma-separated addresses and networks (CIDR) of the balancers. */
    readonly trustedProxies: string;
    /** Seconds a balancer has to send its whole PROXY header. */
    readonly proxyHeaderTimeout: number;
    /** Seconds running transfers may go on during a drain. */
    readonly drainTimeout: number;
  };
  readonly cluster: {
    /** Server processes on this machine; 'auto' = one per CPU core. */
    readonly workers: number | 'auto';
    /** Empty: host name and process id. */
    readonly nodeName: string;
    /** Absolute. The homes, <homesDir>/<user>/; <dataDir>/docs unless set. */
    readonly homesDir: string;
    /** Seconds. */
    readonly heartbeatInterval: number;
    /** Seconds without a heartbeat after which a node is taken for dead. */
    readonly nodeTimeout: number;
  };
}
