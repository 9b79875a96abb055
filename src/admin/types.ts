/** The contracts between the console (terminal, exec), the command table and the commands. */
import type { LogFields, Logger } from '../log/types';
import type { Store } from '../store/types';
import type { PasswordHasher } from '../auth/passwords';
import type { QuotaLedger } from '../quota/quota-ledger';
import type { Homes } from '../vfs/homes';
import type { AccessDirectory } from '../access/directory';
import type { Ops } from '../ops/ops';
import type { LiveConnections, LiveNodes } from './console-host';
import type { OptionSpec, ParsedArgs } from './args';

/** What the admin commands act on; passed in by `startServer`. */
export interface AdminServices {
  readonly store: Store;
  readonly hasher: PasswordHasher;
  readonly quota: QuotaLedger;
  readonly homes: Homes;
  /** Groups, shared folders and per-path permissions; none: the commands say the server keeps none. */
  readonly access?: AccessDirectory;
  readonly connections: LiveConnections;
  /** The nodes sharing the store (this one alone when it is a single process). */
  readonly nodes: LiveNodes;
  readonly logger: Logger;
  /** The configured admin account name (also a reserved user name). */
  readonly adminName: string;
  /** Bytes and files a new user gets when `user add` has no --quota / --files; 0 = unlimited. */
  readonly defaultQuota: number;
  readonly defaultFileQuota: number;
  /** Hooks, login history, address lists, per-user transfer settings; absent: no such commands. */
  readonly ops?: Ops;
  /**
   * Starts draining the server (`drain`): no new connections, the open ones
   * get `timeoutSeconds` (the configured drain timeout when undefined), then
   * the server stops. Returns the timeout in force and whether a drain had
   * started already. Absent where the server cannot be drained.
   */
  readonly drain?: (timeoutSeconds: number | undefined) => DrainStarted;
}

export interface DrainStarted {
  readonly timeoutSeconds: number;
  readonly already: boolean;
}

/** Thrown when the person at the terminal cancels a question with Ctrl-C or Ctrl-D. */
export class Cancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'Cancelled';
  }
}

/** How a command talks to whoever runs it. */
export interface ConsoleIo {
  /** A terminal (pty) is attached: questions and prompts without echo are possible. */
  readonly terminal: boolean;
  /** An interactive shell at a terminal (not `ssh host CMD`, not a script on stdin). */
  readonly interactive: boolean;
  /** The terminal's width in columns, kept up to date; undefined without a terminal. */
  readonly columns: number | undefined;
  /** The next line of input (`--password-stdin`); undefined at end of input. */
  readLine(): Promise<string | undefined>;
  /** Asks at the terminal; `secret` hides what is typed. Throws Cancelled on Ctrl-C / Ctrl-D. */
  ask(question: string, options?: { secret?: boolean }): Promise<string>;
  /** Prints lines on standard output (the menu uses it between questions). */
  print(text: string): void;
}

/** Who runs a command, for checks ("cannot delete yourself") and the log. */
export interface Actor {
  readonly user: string;
  /** Id of the admin's own SSH connection. */
  readonly session: string;
  readonly ip: string;
}

export interface CommandResult {
  /** For people: a table or a sentence; may be empty. */
  readonly text: string;
  /** The same for scripts (`--json`). */
  readonly json: unknown;
  /** Extra log fields describing the change (never a password). */
  readonly log?: LogFields;
  /** The console should end after printing (`exit`). */
  readonly exit?: boolean;
}

export interface CommandContext {
  readonly actor: Actor;
  readonly io: ConsoleIo;
  readonly args: ParsedArgs;
  /** Runs another command line as typed and prints its result (the menu builds on this). */
  run(words: string[]): Promise<boolean>;
}

export interface CommandSpec {
  /** One or two words: "user add", "quota". */
  readonly name: string;
  /** Other spellings accepted (not completed, not listed). */
  readonly aliases?: readonly string[];
  /** The syntax line shown by help and in usage errors. */
  readonly usage: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Further paragraphs and examples for `help CMD`. */
  readonly details?: string;
  readonly options?: OptionSpec;
  readonly minArgs?: number;
  /** Infinity: the rest of the line (a pasted public key). */
  readonly maxArgs?: number;
  /** Only where a person answers questions (the numbered menu). */
  readonly interactiveOnly?: boolean;
  /** Not an action (help, exit): not logged. */
  readonly unlogged?: boolean;
  /** Name of the user the command acts on, for the log; defaults to the first positional. */
  readonly target?: (args: ParsedArgs, actor: Actor) => string | undefined;
  run(ctx: CommandContext): Promise<CommandResult>;
}
