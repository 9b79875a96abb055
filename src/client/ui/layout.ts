/** Where each part of the screen goes, for the screen's size. */
import type * as blessed from 'blessed';

export interface ScreenParts {
  title: blessed.Widgets.BlessedElement;
  local: blessed.Widgets.BlessedElement;
  remote: blessed.Widgets.BlessedElement;
  transfers: blessed.Widgets.BlessedElement;
  log: blessed.Widgets.BlessedElement;
  command: blessed.Widgets.BlessedElement;
  hints: blessed.Widgets.BlessedElement;
}

/** Title on top, the panes side by side, transfers, log, command line, hints at the bottom. */
export function layoutScreen(screen: blessed.Widgets.Screen, p: ScreenParts): void {
  const w = screen.width as number;
  const h = screen.height as number;
  const transferRows = h >= 30 ? 4 : h >= 20 ? 3 : 1;
  const logRows = h >= 30 ? 6 : h >= 20 ? 4 : 1;
  const paneRows = Math.max(3, h - 1 - transferRows - logRows - 2);
  const left = Math.floor(w / 2);
  const place = (
    el: blessed.Widgets.BlessedElement,
    top: number,
    x: number,
    width: number,
    height: number,
  ): void => {
    el.top = top;
    el.left = x;
    el.width = width;
    el.height = height;
  };
  place(p.title, 0, 0, w, 1);
  place(p.local, 1, 0, left, paneRows);
  place(p.remote, 1, left, w - left, paneRows);
  place(p.transfers, 1 + paneRows, 0, w, transferRows);
  place(p.log, 1 + paneRows + transferRows, 0, w, logRows);
  place(p.command, h - 2, 0, w, 1);
  place(p.hints, h - 1, 0, w, 1);
}
