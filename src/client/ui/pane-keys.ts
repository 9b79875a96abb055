/** The keys of the panes: moving, marking, sorting, the function keys and the log. */
import type { FilePane, SortKey } from './file-pane';
import { isPrintable, type KeyLike } from './line-editor';
import type { Side } from './context';

/** The screen's actions the pane keys call. */
export interface PaneKeyActions {
  pane(): FilePane;
  activate(side: Side): void;
  open(): void;
  goUp(): void;
  copy(): void;
  view(): void;
  edit(): void;
  rename(): void;
  mkdir(): void;
  remove(): void;
  chmod(): void;
  markPattern(mark: boolean): void;
  help(): void;
  quit(): void;
  refresh(): void;
  filter(): void;
  command(first: string): void;
  scrollLog(pages: number): void;
  cancelTransfer(): void;
  togglePause(): void;
  dismissEnded(): void;
  note(text: string): void;
  render(): void;
}

const SORT_ORDER: readonly SortKey[] = ['name', 'size', 'time'];

export type FullKey = KeyLike & { full?: string; shift?: boolean };

/** Handles one key in the panes. */
export function paneKey(a: PaneKeyActions, ch: string | undefined, key: FullKey): void {
  const pane = a.pane();
  switch (key.full ?? key.name) {
    case 'tab':
    case 'S-tab':
      a.activate(pane.side === 'local' ? 'remote' : 'local');
      return;
    case 'left':
      a.activate('local');
      return;
    case 'right':
      a.activate('remote');
      return;
    case 'up':
      pane.move(-1);
      break;
    case 'down':
      pane.move(1);
      break;
    case 'pageup':
      pane.move(-pane.pageSize());
      break;
    case 'pagedown':
      pane.move(pane.pageSize());
      break;
    case 'home':
      pane.moveTo('first');
      break;
    case 'end':
      pane.moveTo('last');
      break;
    case 'S-pageup':
    case 'C-up':
    case 'M-up':
      a.scrollLog(-1);
      return;
    case 'S-pagedown':
    case 'C-down':
    case 'M-down':
      a.scrollLog(1);
      return;
    case 'insert':
    case 'space':
      pane.toggleMark();
      break;
    case 'enter':
    case 'linefeed':
      a.open();
      return;
    case 'backspace':
      a.goUp();
      return;
    case 'f3':
      a.view();
      return;
    case 'f4':
      a.edit();
      return;
    case 'f5':
      a.copy();
      return;
    case 'f6':
      a.rename();
      return;
    case 'f7':
      a.mkdir();
      return;
    case 'f8':
    case 'delete':
      a.remove();
      return;
    case 'f9':
      a.chmod();
      return;
    case 'f1':
      a.help();
      return;
    case 'f10':
    case 'C-c':
      a.quit();
      return;
    case 'C-r':
    case 'f2':
      a.refresh();
      return;
    case 'C-s': {
      const next = SORT_ORDER[(SORT_ORDER.indexOf(pane.sortKey) + 1) % SORT_ORDER.length];
      pane.sortKey = next ?? 'name';
      pane.render();
      a.note(`${pane.side} pane sorted by ${pane.sortKey}${pane.reverse ? ', reversed' : ''}`);
      break;
    }
    case 'C-v':
      pane.reverse = !pane.reverse;
      pane.render();
      a.note(`${pane.side} pane sorted by ${pane.sortKey}${pane.reverse ? ', reversed' : ''}`);
      break;
    case 'C-x':
      a.cancelTransfer();
      return;
    case 'C-p':
      a.togglePause();
      return;
    case 'C-d':
      a.dismissEnded();
      return;
    case 'escape':
      if (pane.filter) {
        pane.filter = '';
        pane.render();
      }
      break;
    default:
      if (ch === 'q') a.quit();
      else if (ch === '?') a.help();
      else if (ch === '/') a.filter();
      else if (ch === ':') a.command('');
      else if (ch === '+') a.markPattern(true);
      else if (ch === '-') a.markPattern(false);
      else if (ch === '*') pane.markAll();
      else if (ch === '.') {
        pane.showHidden = !pane.showHidden;
        pane.render();
        a.note(`hidden files ${pane.showHidden ? 'shown' : 'hidden'} in the ${pane.side} pane`);
      } else if (isPrintable(ch) && !key.ctrl) a.command(ch ?? '');
      else return;
      break;
  }
  a.render();
}
