/** Aligned plain-text tables and "field  value" blocks for the admin console. */

export interface Column {
  readonly header: string;
  /** Numbers and sizes read best right-aligned. */
  readonly align?: 'left' | 'right';
}

/** Width as a terminal shows it, counting code points rather than UTF-16 units. */
function width(text: string): number {
  return [...text].length;
}

function pad(text: string, size: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, size - width(text)));
  return align === 'right' ? fill + text : text + fill;
}

/** A header line and one line per row, columns two spaces apart, no trailing blanks. */
export function formatTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
): string {
  const widths = columns.map((col, i) =>
    Math.max(width(col.header), ...rows.map((row) => width(row[i] ?? ''))),
  );
  const line = (cells: readonly string[]): string =>
    columns
      .map((col, i) => pad(cells[i] ?? '', widths[i] ?? 0, col.align ?? 'left'))
      .join('  ')
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
