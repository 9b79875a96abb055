/** Modal boxes over the panes: a yes/no question and a scrollable text (the help). */
import * as blessed from 'blessed';
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

/** A yes/no question: y answers yes; n, Esc and Enter answer no (the safe default). */
export class ConfirmDialog {
  private readonly box: blessed.Widgets.BoxElement;

  constructor(
    screen: blessed.Widgets.Screen,
    theme: Theme,
    question: string,
    private readonly answer: (yes: boolean) => void,
  ) {
    const text = `${question}\n\n[y] yes   [n] no`;
    const inner = Math.max(20, Math.min(72, (screen.width as number) - 8));
    const wrapped = text
      .split('\n')
      .reduce((n, l) => n + Math.max(1, Math.ceil(l.length / inner)), 0);
    this.box = dialogBox(screen, theme, { label: 'Confirm', lines: wrapped + 1, content: text });
  }

  /** Handles a key; true when the dialog is finished. */
  key(ch: string | undefined, key: KeyLike): boolean {
    const c = (ch ?? '').toLowerCase();
    if (c === 'y') return this.close(true);
    if (c === 'n' || key.name === 'escape' || key.name === 'enter') return this.close(false);
    return false;
  }

  close(yes: boolean): boolean {
    this.box.destroy();
    this.answer(yes);
    return true;
  }
}

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
