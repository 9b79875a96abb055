/** The command line's text, cursor and history; no drawing, so it is testable alone. */

export type EditResult = 'submit' | 'cancel' | 'edited' | 'ignored';

/** The parts of a blessed key event the editor reads. */
export interface KeyLike {
  name?: string;
  ctrl?: boolean;
  meta?: boolean;
}

export class LineEditor {
  text = '';
  /** Index in code points, 0…length. */
  cursor = 0;
  private readonly history: string[] = [];
  /** Position while browsing history; history.length = the line being typed. */
  private browsing = 0;
  private draft = '';

  private get chars(): string[] {
    return [...this.text];
  }

  set(text: string): void {
    this.text = text;
    this.cursor = [...text].length;
  }

  clear(): void {
    this.set('');
    this.browsing = this.history.length;
  }

  remember(line: string): void {
    if (line.trim() !== '' && this.history[this.history.length - 1] !== line) {
      this.history.push(line);
    }
    this.browsing = this.history.length;
  }

  insert(s: string): void {
    const chars = this.chars;
    const add = [...s];
    chars.splice(this.cursor, 0, ...add);
    this.text = chars.join('');
    this.cursor += add.length;
  }

  /** Applies one key press. `ch` is the character it typed, if any. */
  key(ch: string | undefined, key: KeyLike): EditResult {
    const chars = this.chars;
    const name = key.name;
    if (name === 'enter' || name === 'linefeed') return 'submit';
    if (name === 'escape') return 'cancel';
    if (key.ctrl) {
      switch (name) {
        case 'a':
          this.cursor = 0;
          return 'edited';
        case 'e':
          this.cursor = chars.length;
          return 'edited';
        case 'u':
          this.text = chars.slice(this.cursor).join('');
          this.cursor = 0;
          return 'edited';
        case 'k':
          this.text = chars.slice(0, this.cursor).join('');
          return 'edited';
        case 'w': {
          const before = chars.slice(0, this.cursor).join('');
          const kept = before.replace(/\S+\s*$/, '');
          this.text = kept + chars.slice(this.cursor).join('');
          this.cursor = [...kept].length;
          return 'edited';
        }
        default:
          return 'ignored';
      }
    }
    switch (name) {
      case 'backspace':
        if (this.cursor === 0) return 'ignored';
        chars.splice(this.cursor - 1, 1);
        this.text = chars.join('');
        this.cursor--;
        return 'edited';
      case 'delete':
        if (this.cursor >= chars.length) return 'ignored';
        chars.splice(this.cursor, 1);
        this.text = chars.join('');
        return 'edited';
      case 'left':
        this.cursor = Math.max(0, this.cursor - 1);
        return 'edited';
      case 'right':
        this.cursor = Math.min(chars.length, this.cursor + 1);
        return 'edited';
      case 'home':
        this.cursor = 0;
        return 'edited';
      case 'end':
        this.cursor = chars.length;
        return 'edited';
      case 'up':
        if (this.browsing === 0) return 'ignored';
        if (this.browsing === this.history.length) this.draft = this.text;
        this.browsing--;
        this.set(this.history[this.browsing] ?? '');
        return 'edited';
      case 'down':
        if (this.browsing >= this.history.length) return 'ignored';
        this.browsing++;
        this.set(
          this.browsing === this.history.length ? this.draft : (this.history[this.browsing] ?? ''),
        );
        return 'edited';
      default:
        break;
    }
    if (ch !== undefined && isPrintable(ch) && !key.meta) {
      this.insert(ch);
      return 'edited';
    }
    return 'ignored';
  }
}

/** A character that types itself (not a control or an escape sequence). */
export function isPrintable(ch: string | undefined): ch is string {
  return ch !== undefined && [...ch].length === 1 && ch >= ' ' && ch !== '\u007f';
}

/**
 * Finds what the word before the cursor may become: `before` is the line up
 * to the cursor, `word` its last word (backslash escapes removed). Returns
 * the full candidates for that word; a folder ends in "/".
 */
export type Completer = (before: string, word: string) => Promise<string[]>;

/** The word before the cursor: where it starts, and its text with `\ ` escapes removed. */
export function wordBefore(before: string): { start: number; word: string } {
  let start = before.length;
  while (start > 0) {
    const c = before[start - 1] as string;
    if (c === ' ' && before[start - 2] !== '\\') break;
    start--;
  }
  return { start, word: before.slice(start).replace(/\\(.)/g, '$1') };
}

/** The longest start all the strings share. */
export function commonPrefix(items: readonly string[]): string {
  if (items.length === 0) return '';
  let prefix = items[0] as string;
  for (const s of items) {
    while (!s.startsWith(prefix)) prefix = prefix.slice(0, -1);
  }
  return prefix;
}

/** A name as typed on the command line: spaces, quotes and backslashes escaped. */
export function escapeWord(word: string): string {
  return word.replace(/([\s'"\\])/g, '\\$1');
}

/**
 * Tab: completes the word before the cursor as far as the candidates agree
 * (a space follows a single file or command; a folder keeps its "/").
 * Resolves with the candidates when there are several, for the caller to
 * show; nothing changes when the line was edited while they were looked up.
 */
export async function complete(editor: LineEditor, completer: Completer): Promise<string[]> {
  const { text, cursor } = editor;
  const chars = [...text];
  const before = chars.slice(0, cursor).join('');
  const after = chars.slice(cursor).join('');
  const { start, word } = wordBefore(before);
  const found = (await completer(before, word)).filter((c) => c.startsWith(word));
  if (editor.text !== text || editor.cursor !== cursor || found.length === 0) return [];
  const prefix = commonPrefix(found);
  const whole = found.length === 1 && !prefix.endsWith('/') ? ' ' : '';
  const typed = before.slice(0, start) + escapeWord(prefix) + whole;
  editor.text = typed + after;
  editor.cursor = [...typed].length;
  return found.length > 1 ? found : [];
}
