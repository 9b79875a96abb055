/**
 * Lines from an SSH channel through Node's readline: with a pty, readline does the editing, the
 * history and tab completion; without one it just splits standard input into lines.
 */
import * as readline from 'node:readline';
import { PassThrough, Writable } from 'node:stream';

/**
 * Standard output of the channel as readline's terminal. On a pty the client's terminal is in raw
 * mode (OpenSSH puts it there), so "\n" alone would not return the carriage: it becomes "\r\n".
 * While muted (a password being typed) readline's echo is dropped.
 */
export class ChannelOutput extends Writable {
  muted = false;
  /** readline wraps long lines at this width and redraws on 'resize'. */
  columns: number;
  rows: number;

  constructor(
    private readonly target: NodeJS.WritableStream & { destroyed?: boolean },
    private readonly crlf: boolean,
    size: { cols: number; rows: number } = { cols: 80, rows: 24 },
  ) {
    super({ decodeStrings: false });
    this.columns = size.cols > 0 ? size.cols : 80;
    this.rows = size.rows > 0 ? size.rows : 24;
  }

  resize(cols: number, rows: number): void {
    if (cols > 0) this.columns = cols;
    if (rows > 0) this.rows = rows;
    this.emit('resize');
  }

  override _write(
    chunk: Buffer | string,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    // Written through at once (ssh2 buffers what the window cannot take), so that muting applies
    // to exactly the writes made while muted.
    if (!this.muted && this.target.destroyed !== true && this.target.writable) {
      const text = chunk.toString();
      this.target.write(this.crlf ? text.replace(/\r?\n/g, '\r\n') : text);
    }
    callback();
  }
}

export type ReadResult =
  | { readonly kind: 'line'; readonly text: string }
  | { readonly kind: 'eof' }
  /** Ctrl-C at a terminal. */
  | { readonly kind: 'interrupt' };

export interface ReadOptions {
  /** Shown at a terminal; never without one (scripts read clean output). */
  prompt?: string;
  /** Hide what is typed and keep it out of the history. */
  secret?: boolean;
  /** Keep the line in the history (commands do, answers to questions do not). */
  history?: boolean;
}

/** Lines typed ahead beyond this pause reading, so a huge script cannot fill memory. */
const MAX_QUEUED = 100;
/** Bytes typed ahead at a terminal beyond this pause the channel. */
const MAX_HELD_BYTES = 64 * 1024;

/**
 * At a terminal, hands readline what is typed one line at a time, and only
 * while a line is asked for. readline echoes keys as it reads them, so text
 * pasted or typed ahead while a command runs would otherwise be echoed before
 * the command can ask for a password without echo: the password of
 * `user add bob⏎secret⏎secret⏎` pasted at once appeared on the screen. Held
 * back here, each line reaches readline after its prompt, muted if secret.
 */
class TypeAhead {
  readonly out = new PassThrough();
  private held = Buffer.alloc(0);
  private open = false;
  private inputEnded = false;
  private outEnded = false;

  constructor(private readonly input: NodeJS.ReadableStream) {
    input.on('data', (d: Buffer | string) => {
      this.held = Buffer.concat([this.held, typeof d === 'string' ? Buffer.from(d) : d]);
      if (this.held.length > MAX_HELD_BYTES) this.input.pause();
      this.flush();
    });
    input.on('end', () => {
      this.inputEnded = true;
      this.flush();
    });
  }

  /** A line is asked for: pass on what is held, up to the end of one line. */
  ask(): void {
    this.open = true;
    this.flush();
  }

  private flush(): void {
    while (this.open && this.held.length > 0) {
      const eol = this.held.findIndex((b) => b === 0x0d || b === 0x0a);
      if (eol < 0) {
        this.out.write(this.held);
        this.held = Buffer.alloc(0);
        break;
      }
      let end = eol + 1;
      if (this.held[eol] === 0x0d && this.held[end] === 0x0a) end++;
      this.out.write(this.held.subarray(0, end));
      this.held = this.held.subarray(end);
      this.open = false;
    }
    if (this.held.length <= MAX_HELD_BYTES) this.input.resume();
    if (this.inputEnded && this.held.length === 0 && !this.outEnded) {
      this.outEnded = true;
      this.out.end();
    }
  }
}

export class LineReader {
  private readonly rl: readline.Interface;
  private readonly queue: string[] = [];
  private waiter: ((result: ReadResult) => void) | undefined;
  private ended = false;
  private current: ReadOptions = {};
  private historyTop: string | undefined;
  private completing = false;
  private interrupting = false;
  private readonly typeAhead: TypeAhead | undefined;

  constructor(
    private readonly o: {
      input: NodeJS.ReadableStream;
      output: ChannelOutput;
      terminal: boolean;
      completer?: (line: string) => Promise<[string[], string]>;
    },
  ) {
    const completer = o.completer;
    this.typeAhead = o.terminal ? new TypeAhead(o.input) : undefined;
    this.rl = readline.createInterface({
      input: this.typeAhead?.out ?? o.input,
      output: o.output,
      terminal: o.terminal,
      historySize: 200,
      removeHistoryDuplicates: true,
      // Completion only where a command is being typed, never in a password or an answer.
      ...(o.terminal && completer
        ? {
            // Readline's callback form: the user names come from the store, asynchronously.
            completer: (
              line: string,
              callback: (err: Error | null, result: [string[], string]) => void,
            ): void => {
              if (!this.completing) {
                callback(null, [[], line]);
                return;
              }
              completer(line).then(
                (result) => callback(null, result),
                // A store that cannot answer offers nothing to complete; the line stays as typed.
                () => callback(null, [[], line]),
              );
            },
          }
        : {}),
    });
    this.rl.on('line', (line) => this.deliver(line));
    this.rl.on('close', () => {
      this.ended = true;
      this.settle({ kind: 'eof' });
    });
    // Readline's documented way to keep a line out of the history: edit the array it hands out.
    this.rl.on('history', (history) => {
      if (this.current.history === false && history[0] !== this.historyTop) history.shift();
      this.historyTop = history[0];
    });
    this.rl.on('SIGINT', () => this.interrupt());
    // Without a listener, readline answers Ctrl-Z by suspending the whole server process.
    this.rl.on('SIGTSTP', () => undefined);
  }

  /** The next line, end of input, or an interrupt. */
  read(options: ReadOptions = {}): Promise<ReadResult> {
    const queued = this.queue.shift();
    if (queued !== undefined) {
      if (this.queue.length < MAX_QUEUED) this.rl.resume();
      return Promise.resolve({ kind: 'line', text: queued });
    }
    if (this.ended) return Promise.resolve({ kind: 'eof' });
    this.current = { history: false, ...options };
    this.completing = options.history === true;
    return new Promise((resolve) => {
      this.waiter = resolve;
      if (this.o.terminal) {
        this.rl.setPrompt(options.prompt ?? '');
        this.rl.prompt();
        this.o.output.muted = options.secret === true;
      }
      this.typeAhead?.ask();
    });
  }

  close(): void {
    this.o.output.muted = false;
    this.rl.close();
  }

  private deliver(line: string): void {
    if (this.interrupting) return;
    if (this.current.secret && this.o.output.muted) {
      // readline's own newline was muted with the password.
      this.o.output.muted = false;
      this.o.output.write('\n');
    }
    if (this.waiter) {
      this.settle({ kind: 'line', text: line });
      return;
    }
    this.queue.push(line);
    if (this.queue.length >= MAX_QUEUED) this.rl.pause();
  }

  private settle(result: ReadResult): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    this.current = {};
    this.completing = false;
    this.o.output.muted = false;
    waiter?.(result);
  }

  /** Ctrl-C: show ^C, drop the line being typed, and tell whoever waits for a line. */
  private interrupt(): void {
    const out = this.o.output;
    if (!out.muted) this.rl.write(null, { ctrl: true, name: 'e' });
    // Ending the line with a muted Return empties readline's line and its undo stack, so neither
    // a half-typed command nor a password can be brought back; deliver() discards the line.
    const saved = this.current;
    this.interrupting = true;
    this.current = { ...saved, history: false };
    out.muted = true;
    this.rl.write(null, { name: 'return' });
    this.interrupting = false;
    this.current = saved;
    out.muted = false;
    out.write('^C\n');
    if (this.waiter) this.settle({ kind: 'interrupt' });
  }
}
