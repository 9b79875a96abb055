/**
 * The command line row's modes: a command being typed, the filter (applied
 * as you type), or one line asked for (a new name, a pattern).
 */
import { LineEditor, complete, type Completer, type KeyLike } from './line-editor';

export interface LineMode {
  prompt: string;
  submit(text: string): void;
  cancel?(): void;
  /** Called after every edit (the filter applies as you type). */
  live?(text: string): void;
  /** Tab completes the word before the cursor (the command line). */
  complete?: Completer;
}

/** What a key did on the command line. */
export type LineKeyResult = 'ended' | 'edited' | 'tab' | 'f1' | 'f10' | 'other';

export class CommandLine {
  readonly editor = new LineEditor();
  mode: LineMode | undefined;

  get busy(): boolean {
    return this.mode !== undefined;
  }

  /** Starts a command, with its first character when typed from the panes. */
  command(first: string, run: (text: string) => void, completer?: Completer): void {
    this.mode = {
      prompt: 'miniftp> ',
      submit: (text) => {
        this.editor.remember(text);
        run(text);
      },
      complete: completer,
    };
    this.editor.clear();
    if (first) this.editor.insert(first);
  }

  ask(prompt: string, then: (text: string) => Promise<void>, initial = ''): void {
    this.mode = { prompt, submit: (text) => void then(text) };
    this.editor.set(initial);
  }

  filter(initial: string, apply: (text: string) => void): void {
    this.mode = {
      prompt: 'filter: ',
      submit: () => undefined,
      cancel: () => apply(''),
      live: apply,
    };
    this.editor.set(initial);
  }

  /** Completes the word before the cursor; resolves with the candidates left to choose from. */
  async complete(): Promise<string[]> {
    const completer = this.mode?.complete;
    return completer ? complete(this.editor, completer) : [];
  }

  /** Leaves the line as Esc would. */
  leave(): void {
    const mode = this.mode;
    this.mode = undefined;
    mode?.cancel?.();
  }

  key(ch: string | undefined, key: KeyLike): LineKeyResult {
    const mode = this.mode;
    if (!mode) return 'other';
    const r = this.editor.key(ch, key);
    if (r === 'submit' || r === 'cancel') {
      const text = this.editor.text;
      this.mode = undefined;
      if (r === 'submit') mode.submit(text);
      else mode.cancel?.();
      return 'ended';
    }
    if (r === 'edited') {
      mode.live?.(this.editor.text);
      return 'edited';
    }
    if (key.name === 'tab' && mode.complete) return 'tab';
    if (key.name === 'f1') return 'f1';
    if (key.name === 'f10') return 'f10';
    return 'other';
  }
}
