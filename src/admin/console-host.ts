/**
 * What the admin console needs from the server that carries it, stated here so
 * that the console depends on nothing above it: a channel to talk on (with who
 * is on it and their terminal), and the live connections it lists and ends.
 * The SSH layer implements both.
 */

/** A session channel as the console uses it: input, output, stderr and an exit status. */
export interface ConsoleChannel extends NodeJS.ReadWriteStream {
  readonly destroyed: boolean;
  readonly stderr: NodeJS.WritableStream;
  exit(status: number): void;
}

export interface ConsoleContext {
  readonly channel: ConsoleChannel;
  readonly user: string;
  /** The connection the channel belongs to. */
  readonly connection: { readonly id: string; readonly ip: string };
  /** The client's terminal size; present when the client asked for a terminal. */
  readonly pty: { readonly cols: number; readonly rows: number } | undefined;
  /** Listeners get the new size when the client's terminal is resized. */
  onResize(listener: (cols: number, rows: number) => void): void;
}

export interface ConsoleHandler {
  /** An interactive session (`ssh admin@host`). */
  shell(ctx: ConsoleContext): void;
  /** One command (`ssh admin@host user list`). */
  exec(ctx: ConsoleContext, command: string): void;
}

/** One live connection of this process, as the SSH layer knows it. */
export interface LiveConnection {
  readonly id: string;
  readonly ip: string;
  readonly port: number;
  readonly since: Date;
  /** The client's SSH identification line, e.g. "SSH-2.0-OpenSSH_9.2p1 Debian-2". */
  readonly clientIdent?: string;
  /** Undefined while the client is still logging in. */
  readonly user: string | undefined;
  readonly method: string | undefined;
  /** Bytes received and sent on the connection so far. */
  bytes?(): number;
  /** Ends the connection, with `reason` shown to the client. */
  kill(reason: string): void;
}

/** One session as `sessions` lists it: of this process, or of any process of the cluster. */
export interface SessionView {
  readonly id: string;
  /** The node serving it; undefined when the server is a single process. */
  readonly node?: string;
  /** The process serving it, and its worker slot when the node has several. */
  readonly pid?: number;
  readonly worker?: number;
  readonly ip: string;
  readonly port: number;
  readonly since: Date;
  readonly clientIdent?: string;
  readonly user: string | undefined;
  readonly method: string | undefined;
  readonly bytes?: number;
}

/** The live sessions the console lists and ends: this process's, or the whole cluster's. */
export interface LiveConnections {
  /** Sessions of other processes are listed too (with the node and process serving each). */
  readonly clustered: boolean;
  list(): Promise<SessionView[]>;
  /** Ends session `id` wherever it runs, with `reason` shown to its client; undefined when there is no such session. */
  kick(id: string, reason: string): Promise<SessionView | undefined>;
  /** Ends every session of `user` wherever it runs; resolves with how many. */
  killUser(user: string, reason: string): Promise<number>;
  /** Tells every process that `user`'s quota changed (so they apply it at once), or that the account is gone. */
  changed(user: string, what: 'quota' | 'deleted'): Promise<void>;
}

/** One node of the cluster as `nodes` lists it. */
export interface NodeView {
  readonly name: string;
  /** Its leading process (the primary, or the only one). */
  readonly pid: number;
  readonly workers: number;
  readonly version: string;
  readonly startedAt: Date;
  readonly heartbeatAt: Date;
  readonly sessions: number;
  /** The node this console runs on. */
  readonly current: boolean;
}

export interface LiveNodes {
  /** The nodes alive now (a node whose heartbeat lapsed is not listed), by name. */
  list(): Promise<NodeView[]>;
}
