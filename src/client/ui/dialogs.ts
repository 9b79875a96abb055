/** Modal boxes over the panes: a question with a few answers and a scrollable text (the help). */
import * as blessed from 'blessed';
import { cellWidth } from './cells';
import { isPrintable, type KeyLike } from './line-editor';
import type { Theme } from './theme';

function centred(screen: blessed.Widgets.Screen, lines: number): { width: number; height: number } {
  const width = Math.max(20, Math.min(76, (screen.width as number) - 4));
  const height = Math.max(5, Math.min(lines + 2, (screen.height as number) - 2));
  return { width, height };
}

/** A bordered box centred over the screen and brought to the front: the frame of both dialogs. */
function dialogBox(
  screen: blessed.Widgets.Screen,
  theme: Theme,
  o: { label: string; lines: number; content: string; scrollable?: boolean },
): blessed.Widgets.BoxElement {
  const { width, height } = centred(screen, o.lines);
  const box = blessed.box({
    parent: screen,
    top: 'center',
    left: 'center',
    width,
    height,
    border: { type: 'line' },
    label: ` ${o.label} `,
    tags: false,
    padding: { left: 1, right: 1 },
    content: o.content,
    style: theme.dialog,
    ...(o.scrollable ? { scrollable: true, alwaysScroll: true, mouse: true } : {}),
  });
  box.setFront();
  return box;
}

/** One answer of a ChoiceDialog: the key that gives it, and its word. */
export interface Choice<T extends string> {
  key: string;
  label: string;
  value: T;
}

/** The answer, and whether it holds for the questions of the same kind that follow. */
export interface Chosen<T extends string> {
  value: T;
  forAll: boolean;
}

/**
 * A question with a few answers, one key each. Esc and Enter give the
 * `fallback` (the safe answer). With `offerAll`, the key in capitals (or
 * with Shift) gives the same answer for all the questions of this kind that follow.
 */
export class ChoiceDialog<T extends string> {
  private readonly box: blessed.Widgets.BoxElement;

  constructor(
    screen: blessed.Widgets.Screen,
    theme: Theme,
    question: string,
    private readonly choices: ReadonlyArray<Choice<T>>,
    private readonly fallback: T,
    private readonly offerAll: boolean,
    private readonly answer: (chosen: Chosen<T>) => void,
  ) {
    const keys = choices.map((c) => `[${c.key}] ${c.label}`).join('   ');
    const all = offerAll
      ? `\n${choices.map((c) => c.key.toUpperCase()).join(' ')}: the same for all the rest`
      : '';
    const text = `${question}\n\n${keys}${all}`;
    const inner = Math.max(20, Math.min(72, (screen.width as number) - 8));
    const wrapped = text
      .split('\n')
      .reduce((n, l) => n + Math.max(1, Math.ceil(cellWidth(l) / inner)), 0);
    this.box = dialogBox(screen, theme, { label: 'Confirm', lines: wrapped + 1, content: text });
  }

  /** Handles a key; true when the dialog is finished. */
  key(ch: string | undefined, key: KeyLike & { shift?: boolean }): boolean {
    const c = ch ?? '';
    const found = this.choices.find((o) => o.key === c.toLowerCase());
    if (found) {
      const forAll = this.offerAll && (c !== c.toLowerCase() || key.shift === true);
      return this.close({ value: found.value, forAll });
    }
    if (key.name === 'escape' || key.name === 'enter') {
      return this.close({ value: this.fallback, forAll: false });
    }
    return false;
  }

  /** Closes with the safe answer (quitting). */
  dismiss(): void {
    this.close({ value: this.fallback, forAll: false });
  }

  private close(chosen: Chosen<T>): boolean {
    this.box.destroy();
    this.answer(chosen);
    return true;
  }
}

/** The yes/no answers: y answers yes; n, Esc and Enter answer no (the safe default). */
export const YES_NO: ReadonlyArray<Choice<'yes' | 'no'>> = [
  { key: 'y', label: 'yes', value: 'yes' },
  { key: 'n', label: 'no', value: 'no' },
];

/**
 * What a key did to a TextPopup: nothing that closes it ('keep'), closed it,
 * or closed it and should be typed on the command line ('typed').
 */
export type PopupKeyResult = 'keep' | 'closed' | 'typed';

/**
 * Text in a box (the help); arrows scroll, Esc/Enter/F1/F10 close. Any
 * printable key closes it too and is handed back to be typed: a user who
 * starts typing the next command expects it on the command line, not lost.
 */
export class TextPopup {
  private readonly box: blessed.Widgets.BoxElement;

  constructor(screen: blessed.Widgets.Screen, theme: Theme, label: string, text: string) {
    this.box = dialogBox(screen, theme, {
      label,
      lines: text.split('\n').length + 1,
      content: `${text}\n(Esc closes, arrows scroll; typing starts a command)`,
      scrollable: true,
    });
  }

  key(ch: string | undefined, key: KeyLike): PopupKeyResult {
    const page = Math.max(1, (this.box.height as number) - 2);
    switch (key.name) {
      case 'up':
        this.box.scroll(-1);
        return 'keep';
      case 'down':
        this.box.scroll(1);
        return 'keep';
      case 'pageup':
        this.box.scroll(-page);
        return 'keep';
      case 'pagedown':
      case 'space':
        this.box.scroll(page);
        return 'keep';
      case 'escape':
      case 'enter':
      case 'f1':
      case 'f10':
        this.close();
        return 'closed';
      default:
        if (isPrintable(ch) && !key.ctrl && !key.meta) {
          this.close();
          return 'typed';
        }
        return 'keep';
    }
  }

  close(): void {
    this.box.destroy();
  }
}
