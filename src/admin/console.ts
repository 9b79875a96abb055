/**
 * The admin console on an SSH session channel: an interactive shell (line editing with a pty,
 * plain lines from stdin without one) or a single command sent with exec. Either way a line is
 * split into words, run through the command table, and its result or a one-line error printed.
 */
import { DEFAULT_ADMIN_PASSWORD } from '../auth/passwords';
import { MiniftpError, describeError } from '../errors';
import { tokenize } from './args';
import { CommandTable } from './commands';
import { ChannelOutput, LineReader } from './line-reader';
import { Cancelled, type Actor, type AdminServices, type ConsoleIo } from './types';
import type { ConsoleContext, ConsoleHandler } from './console-host';

const PROMPT = 'miniftp> ';
const BANNER = 'MiniFTP admin console. Type help for the commands, exit or Ctrl-D to leave.';

export class AdminConsole implements ConsoleHandler {
  private readonly table: CommandTable;

  constructor(private readonly s: AdminServices) {
    this.table = new CommandTable(s);
  }

  shell(ctx: ConsoleContext): void {
    void new ConsoleSession(ctx, this.table, this.s, 'shell').runShell();
  }

  exec(ctx: ConsoleContext, command: string): void {
    void new ConsoleSession(ctx, this.table, this.s, 'exec').runOnce(command);
  }
}

/** One channel's console: its terminal, its input lines, and how it ends. */
class ConsoleSession implements ConsoleIo {
  readonly terminal: boolean;
  readonly interactive: boolean;
  private readonly out: ChannelOutput;
  private readonly reader: LineReader;
  private readonly actor: Actor;
  private anyFailed = false;
  /** A shell without a terminal: commands come from a script. */
  private readonly script: boolean;
  /** In a script: the number of the line being run, counted as read. */
  private scriptLine = 0;
  private finished = false;
  private channelClosed = false;

  constructor(
    private readonly ctx: ConsoleContext,
    private readonly table: CommandTable,
    private readonly s: AdminServices,
    mode: 'shell' | 'exec',
  ) {
    this.terminal = ctx.pty !== undefined;
    this.interactive = mode === 'shell' && this.terminal;
    this.script = mode === 'shell' && !this.terminal;
    this.actor = { user: ctx.user, session: ctx.connection.id, ip: ctx.connection.ip };
    this.out = new ChannelOutput(ctx.channel, this.terminal, ctx.pty);
    ctx.onResize((cols, rows) => this.out.resize(cols, rows));
    this.reader = new LineReader({
      input: ctx.channel,
      output: this.out,
      terminal: this.terminal,
      completer: (line) => table.complete(line),
    });
    ctx.channel.on('close', () => {
      this.channelClosed = true;
      this.reader.close();
    });
    s.logger.debug('admin.console', {
      admin: ctx.user,
      session: ctx.connection.id,
      mode,
      pty: this.terminal,
    });
  }

  async runShell(): Promise<void> {
    try {
      if (this.interactive) {
        this.print(BANNER);
        const warning = await this.defaultPasswordWarning();
        if (warning) this.print(warning);
      }
      for (;;) {
        const read = await this.reader.read({ prompt: PROMPT, history: true });
        if (read.kind === 'eof') {
          // Ctrl-D: leave the client's own prompt on a fresh line.
          if (this.terminal) this.print('\n');
          break;
        }
        if (read.kind === 'interrupt') continue;
        // A script's errors say which of its lines failed.
        if (this.script) this.scriptLine++;
        const words = this.split(read.text);
        if (!words || words.length === 0) continue;
        const { exit } = await this.run(words);
        if (exit) break;
      }
      // A script fed to `ssh -T` fails if any of its commands failed.
      this.finish(!this.interactive && this.anyFailed ? 1 : 0);
    } catch (err) {
      this.crash(err);
    }
  }

  async runOnce(command: string): Promise<void> {
    try {
      const words = this.split(command);
      if (!words) {
        this.finish(1);
        return;
      }
      if (words.length === 0) {
        this.printError('no command given: try help');
        this.finish(1);
        return;
      }
      const { ok } = await this.run(words);
      this.finish(ok ? 0 : 1);
    } catch (err) {
      this.crash(err);
    }
  }

  /** Said at every interactive login while the admin password is the first-start one. */
  private async defaultPasswordWarning(): Promise<string | undefined> {
    const me = await this.s.store.users.get(this.ctx.user);
    if (!me?.isAdmin || !(await this.s.hasher.isDefaultAdminPassword(me.passwordHash))) return;
    return (
      `warning: the admin password is still the first-start one ('${DEFAULT_ADMIN_PASSWORD}'); ` +
      'anyone who can reach this port can log in. Change it with: passwd'
    );
  }

  // ConsoleIo

  get columns(): number | undefined {
    return this.terminal ? this.out.columns : undefined;
  }

  async readLine(): Promise<string | undefined> {
    const read = await this.reader.read();
    if (read.kind === 'line' && this.script) this.scriptLine++;
    return read.kind === 'line' ? read.text : undefined;
  }

  async ask(question: string, options: { secret?: boolean } = {}): Promise<string> {
    if (!this.terminal) throw MiniftpError.invalid('no terminal to ask on: connect with ssh -t');
    const read = await this.reader.read({ prompt: question, secret: options.secret === true });
    if (read.kind !== 'line') throw new Cancelled();
    return read.text;
  }

  print(text: string): void {
    if (text === '') return;
    this.out.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  // Running

  /** Words of a line, or undefined after printing why it could not be split. */
  private split(line: string): string[] | undefined {
    try {
      return tokenize(line);
    } catch (err) {
      this.fail(err);
      return undefined;
    }
  }

  private async run(words: string[]): Promise<{ ok: boolean; exit: boolean }> {
    try {
      const { result, json } = await this.table.execute(words, {
        actor: this.actor,
        io: this,
        run: async (nested) => (await this.run(nested)).ok,
      });
      this.print(json ? JSON.stringify(result.json, null, 2) : result.text);
      return { ok: true, exit: result.exit === true };
    } catch (err) {
      this.fail(err);
      return { ok: false, exit: false };
    }
  }

  private fail(err: unknown): void {
    this.anyFailed = true;
    if (err instanceof Cancelled) {
      this.printError('cancelled');
      return;
    }
    if (err instanceof MiniftpError) {
      this.printError(err.message);
      return;
    }
    this.s.logger.error('admin.error', { admin: this.actor.user, error: describeError(err) });
    this.printError(`the command failed: ${describeError(err)}`);
  }

  /** One line. At a terminal it goes with the rest of the output, so the order stays as typed. */
  private printError(message: string): void {
    const where = this.scriptLine > 0 ? `line ${this.scriptLine}: ` : '';
    if (this.terminal) this.out.write(`error: ${where}${message}\n`);
    else if (!this.channelClosed) this.ctx.channel.stderr.write(`error: ${where}${message}\n`);
  }

  private crash(err: unknown): void {
    this.s.logger.error('admin.error', { admin: this.actor.user, error: describeError(err) });
    this.finish(1);
  }

  private finish(status: number): void {
    if (this.finished) return;
    this.finished = true;
    this.reader.close();
    if (this.channelClosed) return;
    this.ctx.channel.exit(status);
    this.ctx.channel.end();
  }
}
