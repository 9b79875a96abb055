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

/** One live connection, as `sessions` lists it and `kick` ends it. */
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
  /** Ends the connection, with `reason` shown to the client. */
  kill(reason: string): void;
}

/** The server's live connections. */
export interface LiveConnections {
  get(id: string): LiveConnection | undefined;
  list(): LiveConnection[];
  /** Ends every connection of `user`; returns how many. */
  killUser(user: string, reason: string): number;
}
