/**
 * A program in a pseudo-terminal with a headless xterm reading its output, so
 * a test can see the screen as text and type keys.
 */
import * as pty from 'node-pty';
import { Terminal } from '@xterm/headless';

export const KEYS = {
  enter: '\r',
  tab: '\t',
  escape: '\x1b',
  backspace: '\x7f',
  up: '\x1b[A',
  down: '\x1b[B',
  f1: '\x1bOP',
  f5: '\x1b[15~',
  f6: '\x1b[17~',
  f7: '\x1b[18~',
  f8: '\x1b[19~',
  f10: '\x1b[21~',
} as const;

export interface PtyOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  cols?: number;
  rows?: number;
}

export class PtyTerminal {
  private readonly proc: pty.IPty;
  readonly term: Terminal;
  /** Everything the program wrote, for failure messages. */
  private raw = '';
  private listeners: Array<() => void> = [];
  readonly exited: Promise<{ exitCode: number; signal?: number }>;
  private exitInfo: { exitCode: number; signal?: number } | undefined;

  constructor(file: string, args: string[], o: PtyOptions) {
    const cols = o.cols ?? 80;
    const rows = o.rows ?? 24;
    this.term = new Terminal({ cols, rows, allowProposedApi: true });
    this.proc = pty.spawn(file, args, {
      name: 'xterm-256color',
      cols,
      rows,
      cwd: o.cwd,
      env: o.env as Record<string, string>,
    });
    // Answers to the program's terminal queries go back to it, as a real terminal's would.
    this.term.onData((d) => this.proc.write(d));
    this.proc.onData((d) => {
      this.raw += d;
      this.term.write(d, () => this.wake());
    });
    this.exited = new Promise((resolve) => {
      this.proc.onExit((e) => {
        this.exitInfo = e;
        // Let the last output reach the terminal before anyone looks.
        this.term.write('', () => {
          this.wake();
          resolve(e);
        });
      });
    });
  }

  private wake(): void {
    for (const l of this.listeners.splice(0)) l();
  }

  /** The screen as lines of text (trailing spaces cut). */
  lines(): string[] {
    const buf = this.term.buffer.active;
    const out: string[] = [];
    for (let y = 0; y < this.term.rows; y++) {
      out.push(buf.getLine(buf.viewportY + y)?.translateToString(true) ?? '');
    }
    return out;
  }

  text(): string {
    return this.lines().join('\n');
  }

  write(keys: string): void {
    this.proc.write(keys);
  }

  resize(cols: number, rows: number): void {
    this.term.resize(cols, rows);
    this.proc.resize(cols, rows);
  }

  /**
   * Waits until `test` holds for the screen text, re-checking whenever output
   * arrives; fails after `timeoutMs` showing the screen.
   */
  async waitFor(
    what: string,
    test: (screen: string) => boolean,
    timeoutMs = 20_000,
  ): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = this.text();
      if (test(screen)) return screen;
      if (this.exitInfo) {
        throw new Error(
          `the program exited (${this.exitInfo.exitCode}) before ${what}:\n${screen}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; the screen:\n${screen}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.listeners.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  waitForText(text: string | RegExp, timeoutMs?: number): Promise<string> {
    const test =
      typeof text === 'string' ? (s: string) => s.includes(text) : (s: string) => text.test(s);
    return this.waitFor(String(text), test, timeoutMs);
  }

  kill(): void {
    if (!this.exitInfo) this.proc.kill('SIGKILL');
  }

  output(): string {
    return this.raw;
  }

  dispose(): void {
    this.kill();
    this.term.dispose();
  }
}
