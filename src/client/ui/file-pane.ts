/**
 * One side's file list: entries in columns (name, size, date), a filter,
 * the sort order, hidden files shown or not, the cursor and the marked entries.
 */
import * as blessed from 'blessed';
import { formatDate, formatSizeShort } from '../format';
import type { FileEntry } from '../listing';
import { cellWidth, fitCells, fitCellsEnd, padCellsStart } from './cells';
import { tag, type Theme } from './theme';

/** The size column of a MiniFTP shared folder: read-only, read-write, upload-only (a drop box). */
const SHARED_TAGS: Readonly<Record<string, string>> = {
  read: '<RO>',
  write: '<RW>',
  upload: '<UP>',
};

export const PARENT = '..';

export interface PaneRow {
  name: string;
  entry: FileEntry | undefined;
}

export type SortKey = 'name' | 'size' | 'time';

/** Cuts `s` to `width` terminal cells, marking the cut with "~" (ASCII, safe on any terminal). */
export function fit(s: string, width: number): string {
  return fitCells(s, width);
}

/** Keeps the end of a path, which says more than its start: "~/deep/folder". */
export function fitPath(p: string, width: number): string {
  return fitCellsEnd(p, width);
}

/** A glob of * and ? (case-insensitive), as `+` and `-` take it. */
export function globMatcher(pattern: string): (name: string) => boolean {
  const source = [...pattern]
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  const re = new RegExp(`^${source}$`, 'iu');
  return (name) => re.test(name);
}

/** Folders first, then by the key; `reverse` turns the order within each group. */
export function sortRows(entries: FileEntry[], key: SortKey, reverse: boolean): FileEntry[] {
  const byName = (a: FileEntry, b: FileEntry): number =>
    a.name.localeCompare(b.name, undefined, { numeric: true });
  const compare = (a: FileEntry, b: FileEntry): number => {
    if (key === 'size' && a.size !== b.size) return b.size - a.size;
    if (key === 'time') {
      const d = (b.mtime?.getTime() ?? 0) - (a.mtime?.getTime() ?? 0);
      if (d !== 0) return d;
    }
    return byName(a, b);
  };
  return [...entries].sort((a, b) => {
    if (a.isDir !== b.isDir) return a.isDir ? -1 : 1;
    return reverse ? compare(b, a) : compare(a, b);
  });
}

export class FilePane {
  readonly list: blessed.Widgets.ListElement;
  private entries: FileEntry[] = [];
  private rows: PaneRow[] = [];
  filter = '';
  /** The folder shown, as the user sees it. */
  where = '';
  active = false;
  sortKey: SortKey = 'name';
  reverse = false;
  showHidden = true;
  /** Names marked with Insert/Space or `+`: what F5, F6 and F8 act on when any are marked. */
  readonly marked = new Set<string>();
  /** Extra text for the title (the remote side shows free room and quota). */
  note = '';

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
    if (where !== this.where) this.marked.clear();
    this.where = where;
    this.entries = entries;
    const names = new Set(entries.map((e) => e.name));
    for (const m of this.marked) if (!names.has(m)) this.marked.delete(m);
    this.render(keep);
  }

  /** The entry under the cursor ('..' gives a row without entry). */
  current(): PaneRow | undefined {
    return this.rows[this.selectedIndex()];
  }

  /** The entries shown (filter and hidden files applied), '..' left out. */
  shownEntries(): FileEntry[] {
    return this.rows.flatMap((r) => (r.entry ? [r.entry] : []));
  }

  /** The marked entries, or the one under the cursor when none is marked. */
  targets(): FileEntry[] {
    if (this.marked.size > 0) return this.shownEntries().filter((e) => this.marked.has(e.name));
    const row = this.current();
    return row?.entry ? [row.entry] : [];
  }

  /** Marks or unmarks the entry under the cursor, then moves down. */
  toggleMark(): void {
    const row = this.current();
    if (row?.entry) {
      if (this.marked.has(row.name)) this.marked.delete(row.name);
      else this.marked.add(row.name);
    }
    this.move(1);
    this.render();
  }

  /** Marks (or unmarks) every shown entry matching a glob; returns how many changed. */
  markMatching(pattern: string, mark: boolean): number {
    const matches = globMatcher(pattern);
    let n = 0;
    for (const e of this.shownEntries()) {
      if (!matches(e.name) || this.marked.has(e.name) === mark) continue;
      if (mark) this.marked.add(e.name);
      else this.marked.delete(e.name);
      n++;
    }
    this.render();
    return n;
  }

  /** Marks every shown entry, or clears the marks when all are marked already. */
  markAll(): void {
    const shown = this.shownEntries();
    if (shown.length > 0 && shown.every((e) => this.marked.has(e.name))) this.marked.clear();
    else for (const e of shown) this.marked.add(e.name);
    this.render();
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

  /** Redraws the rows (after a resize, a new listing, a filter or sort change). */
  render(keep?: string): void {
    const name = keep ?? this.current()?.name;
    const inner = Math.max(4, (this.list.width as number) - 2);
    const showDate = inner >= 34;
    const sizeW = 6;
    // One cell for the mark, one before the size.
    const nameW = inner - 2 - sizeW - (showDate ? 13 : 0);
    const needle = this.filter.toLowerCase();
    const shown = sortRows(this.entries, this.sortKey, this.reverse).filter(
      (e) =>
        (needle === '' || e.name.toLowerCase().includes(needle)) &&
        (this.showHidden || !e.name.startsWith('.')),
    );
    this.rows = [];
    if (this.where !== '/' && this.where !== '') this.rows.push({ name: PARENT, entry: undefined });
    for (const e of shown) this.rows.push({ name: e.name, entry: e });
    const items = this.rows.map(({ name: n, entry: e }) => {
      if (!e) return ` ${blessed.escape(fit(`${PARENT}/`, nameW))}`;
      const mark = this.marked.has(n) ? '*' : ' ';
      const label = blessed.escape(fit(e.isDir ? `${n}/` : e.isLink ? `${n}@` : n, nameW));
      // A shared folder shows what its grant allows instead of <DIR>.
      const shared = e.shared === undefined ? undefined : SHARED_TAGS[e.shared];
      const size = shared ?? (e.isDir ? '<DIR>' : formatSizeShort(e.size));
      const date = showDate ? ` ${formatDate(e.mtime)}` : '';
      const text = `${e.isDir ? tag(this.theme.dirTag, label) : label} ${padCellsStart(size, sizeW)}${date}`;
      return this.marked.has(n) ? `${mark}${tag(this.theme.markTag, text)}` : `${mark}${text}`;
    });
    this.list.setItems(items);
    let index = this.rows.findIndex((r) => r.name === name);
    if (index < 0) index = Math.min(this.selectedIndex(), Math.max(0, this.rows.length - 1));
    this.list.select(index);
    this.renderLabel();
  }

  /** How the pane is sorted, for the title: "" for the default (name, ascending). */
  private sortNote(): string {
    if (this.sortKey === 'name' && !this.reverse) return '';
    return ` [${this.sortKey}${this.reverse ? ' rev' : ''}]`;
  }

  private renderLabel(): void {
    const width = Math.max(8, (this.list.width as number) - 4);
    const head = this.side === 'local' ? 'Local' : 'Remote';
    const extras =
      (this.filter ? ` [/${this.filter}]` : '') +
      this.sortNote() +
      (this.showHidden ? '' : ' [no .files]') +
      (this.marked.size > 0 ? ` [${this.marked.size} marked]` : '');
    const mark = this.active ? '*' : '';
    const room = width - head.length - mark.length - 4 - cellWidth(extras);
    // The folder comes first; the free room shows when there is space left for it.
    const where = fitPath(this.where, Math.max(4, room));
    const spare = room - cellWidth(where);
    const note = this.note && cellWidth(this.note) + 1 <= spare ? ` ${this.note}` : '';
    const label = ` ${mark}${head}: ${where}${extras}${note}`;
    this.list.setLabel(blessed.escape(`${fitCells(label, width).trimEnd()} `));
  }
}
