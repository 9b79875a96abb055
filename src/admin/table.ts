/** Aligned plain-text tables and "field  value" blocks for the admin console. */

export interface Column {
  readonly header: string;
  /** Numbers and sizes read best right-aligned. */
  readonly align?: 'left' | 'right';
  /**
   * Columns that may be cut (with "…") to fit a narrow terminal, lowest first; a
   * column without it keeps its width.
   */
  readonly cutOrder?: number;
}

const GAP = 2;
/** A cut column keeps room for its header or this many characters, whichever is more. */
const MIN_CUT = 6;

/** Width as a terminal shows it, counting code points rather than UTF-16 units. */
function width(text: string): number {
  return [...text].length;
}

function pad(text: string, size: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, size - width(text)));
  return align === 'right' ? fill + text : text + fill;
}

function cut(text: string, size: number): string {
  const chars = [...text];
  return chars.length <= size ? text : `${chars.slice(0, Math.max(0, size - 1)).join('')}…`;
}

/** Narrows the columns that allow it, in their cut order, until the line fits `total`. */
function fitWidths(columns: readonly Column[], widths: number[], total: number): void {
  let over = widths.reduce((a, b) => a + b, 0) + GAP * (columns.length - 1) - total;
  const order = columns
    .map((col, i) => ({ col, i }))
    .filter(({ col }) => col.cutOrder !== undefined)
    .sort((a, b) => (a.col.cutOrder ?? 0) - (b.col.cutOrder ?? 0));
  for (const { col, i } of order) {
    if (over <= 0) return;
    const now = widths[i] ?? 0;
    const least = Math.min(now, Math.max(width(col.header), MIN_CUT));
    const take = Math.min(over, now - least);
    widths[i] = now - take;
    over -= take;
  }
}

/**
 * A header line and one line per row, columns two spaces apart, no trailing blanks. With
 * `maxWidth` (a terminal's width) the columns that allow it are cut to fit, so that rows
 * do not wrap.
 */
export function formatTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
  options: { maxWidth?: number } = {},
): string {
  const widths = columns.map((col, i) =>
    Math.max(width(col.header), ...rows.map((row) => width(row[i] ?? ''))),
  );
  if (options.maxWidth !== undefined) fitWidths(columns, widths, options.maxWidth);
  const line = (cells: readonly string[]): string =>
    columns
      .map((col, i) =>
        pad(cut(cells[i] ?? '', widths[i] ?? 0), widths[i] ?? 0, col.align ?? 'left'),
      )
      .join(' '.repeat(GAP))
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join('\n');
}

/** One "label  value" line per pair, values aligned. */
export function formatFields(pairs: readonly (readonly [string, string])[]): string {
  const size = Math.max(0, ...pairs.map(([label]) => width(label)));
  return pairs
    .map(([label, value]) => `${pad(label, size, 'left')}  ${value}`.trimEnd())
    .join('\n');
}
