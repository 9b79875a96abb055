/**
 * What the store keeps for a cluster (several processes or nodes on one
 * store): the live nodes with their heartbeat, and every node's live
 * sessions, so that one console sees and acts on all of them; and a bus that
 * carries short messages to every process.
 */

/** One node: a machine's primary process and its workers, or a single process. */
export interface NodeRecord {
  /** Unique among the nodes of one store (`nodeName`). */
  readonly name: string;
  /** The node's leading process: the primary, or the only process. */
  readonly pid: number;
  readonly workers: number;
  /** MiniFTP's version on that node. */
  readonly version: string;
  /** ISO-8601. */
  readonly startedAt: string;
  /** ISO-8601, by the node's own clock. */
  readonly heartbeatAt: string;
}

/** One logged-in connection of some node. */
export interface SessionRecord {
  readonly node: string;
  /** The connection's id, unique in the cluster. */
  readonly id: string;
  /** The process serving it. */
  readonly pid: number;
  /** The worker slot (1..N) serving it; null for a node of one process. */
  readonly worker: number | null;
  readonly user: string;
  readonly ip: string;
  readonly port: number;
  /** 'sftp' for users, 'console' for the administrator. */
  readonly kind: string;
  /** How the user logged in ('password', 'publickey', …). */
  readonly method: string;
  /** The client's identification line, already cut to a sane length. */
  readonly client: string;
  /** ISO-8601. */
  readonly startedAt: string;
  /** Bytes received and sent, as of the serving node's last heartbeat. */
  readonly bytes: number;
}

export interface ClusterStore {
  /** Creates or refreshes `node`'s row with `at` as its heartbeat. */
  beat(node: Omit<NodeRecord, 'heartbeatAt'>, at: Date): Promise<void>;
  /** Every node with a row, by name, with its number of sessions. */
  nodes(): Promise<Array<NodeRecord & { readonly sessions: number }>>;
  /** Removes nodes whose last heartbeat is before `before`, with their sessions; their names. */
  sweep(before: Date): Promise<string[]>;
  /** Removes a node and its sessions (a node that stops). */
  removeNode(name: string): Promise<void>;
  addSession(session: SessionRecord): Promise<void>;
  removeSession(node: string, id: string): Promise<void>;
  /** Removes the sessions of `node` served by process `pid` (a process that stopped or died). */
  removeProcess(node: string, pid: number): Promise<void>;
  /** The processes of `node` that have sessions. */
  processes(node: string): Promise<number[]>;
  /** Every session of every node, by node and start. */
  sessions(): Promise<SessionRecord[]>;
  setBytes(node: string, id: string, bytes: number): Promise<void>;
}

/** Carries short text messages to every process on the store but the sender. */
export interface ClusterBus {
  publish(text: string): Promise<void>;
  subscribe(listener: (text: string) => void): void;
  close(): Promise<void>;
}
