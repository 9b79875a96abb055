/** One side's file list: entries in columns (name, size, date), a filter, and the selection. */
import * as blessed from 'blessed';
import { formatDate, formatSizeShort } from '../format';
import type { FileEntry } from '../listing';
import { tag, type Theme } from './theme';

export const PARENT = '..';

export interface PaneRow {
  name: string;
  entry: FileEntry | undefined;
}

/** Cuts `s` to `width` columns, marking the cut with "~" (ASCII, safe on any terminal). */
export function fit(s: string, width: number): string {
  if (width <= 0) return '';
  const chars = [...s];
  if (chars.length <= width) return s.padEnd(width);
  return `${chars.slice(0, Math.max(0, width - 1)).join('')}~`;
}

/** Keeps the end of a path, which says more than its start: "…/deep/folder". */
export function fitPath(p: string, width: number): string {
  const chars = [...p];
  if (chars.length <= width) return p;
  return `~${chars.slice(chars.length - width + 1).join('')}`;
}

export class FilePane {
  readonly list: blessed.Widgets.ListElement;
  private entries: FileEntry[] = [];
  private rows: PaneRow[] = [];
  filter = '';
  /** The folder shown, as the user sees it. */
  where = '';
  active = false;

  constructor(
    screen: blessed.Widgets.Screen,
    readonly side: 'local' | 'remote',
    private readonly theme: Theme,
  ) {
    this.list = blessed.list({
      parent: screen,
      border: { type: 'line' },
      tags: true,
      mouse: true,
      keys: false,
      scrollbar: undefined,
      style: { selected: theme.selectedInactive, border: theme.paneBorder },
    });
  }

  setEntries(where: string, entries: FileEntry[], keep?: string): void {
    this.where = where;
    this.entries = entries;
    this.render(keep);
  }

  /** The entry under the cursor ('..' gives a row without entry). */
  current(): PaneRow | undefined {
    return this.rows[this.selectedIndex()];
  }

  selectedIndex(): number {
    return (this.list as unknown as { selected: number }).selected ?? 0;
  }

  move(delta: number): void {
    const i = Math.max(0, Math.min(this.rows.length - 1, this.selectedIndex() + delta));
    this.list.select(i);
  }

  moveTo(where: 'first' | 'last'): void {
    this.list.select(where === 'first' ? 0 : Math.max(0, this.rows.length - 1));
  }

  /** Rows in one page, for PageUp/PageDown. */
  pageSize(): number {
    return Math.max(1, (this.list.height as number) - 2);
  }

  setActive(active: boolean): void {
    this.active = active;
    const style = this.list.style as Record<string, unknown>;
    style.selected = active ? this.theme.selected : this.theme.selectedInactive;
    style.border = active ? this.theme.paneBorderActive : this.theme.paneBorder;
    this.renderLabel();
  }

  /** Redraws the rows (after a resize, a new listing or a filter change). */
  render(keep?: string): void {
    const name = keep ?? this.current()?.name;
    const inner = Math.max(4, (this.list.width as number) - 2);
    const showDate = inner >= 34;
    const sizeW = 6;
    const nameW = inner - 1 - sizeW - (showDate ? 13 : 0);
    const needle = this.filter.toLowerCase();
    const shown = this.entries.filter(
      (e) => needle === '' || e.name.toLowerCase().includes(needle),
    );
    this.rows = [];
    if (this.where !== '/' && this.where !== '') this.rows.push({ name: PARENT, entry: undefined });
    for (const e of shown) this.rows.push({ name: e.name, entry: e });
    const items = this.rows.map(({ name: n, entry: e }) => {
      if (!e) return blessed.escape(fit(`${PARENT}/`, nameW));
      const label = blessed.escape(fit(e.isDir ? `${n}/` : e.isLink ? `${n}@` : n, nameW));
      const size = e.isDir ? '<DIR>' : formatSizeShort(e.size);
      const date = showDate ? ` ${formatDate(e.mtime)}` : '';
      const text = `${e.isDir ? tag(this.theme.dirTag, label) : label} ${size.padStart(sizeW)}${date}`;
      return text;
    });
    this.list.setItems(items);
    let index = this.rows.findIndex((r) => r.name === name);
    if (index < 0) index = Math.min(this.selectedIndex(), Math.max(0, this.rows.length - 1));
    this.list.select(index);
    this.renderLabel();
  }

  private renderLabel(): void {
    const width = Math.max(8, (this.list.width as number) - 4);
    const head = this.side === 'local' ? 'Local' : 'Remote';
    const filter = this.filter ? ` [/${this.filter}]` : '';
    const mark = this.active ? '*' : '';
    const room = width - head.length - filter.length - mark.length - 4;
    this.list.setLabel(
      blessed.escape(` ${mark}${head}: ${fitPath(this.where, Math.max(4, room))}${filter} `),
    );
  }
}
