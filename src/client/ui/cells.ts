/**
 * Terminal cell widths: East Asian wide and fullwidth characters and emoji
 * take two cells, combining marks and format characters none, the rest one.
 * Columns are padded and cut by these widths, so a name in any script keeps
 * the size and date columns after it in place.
 */

const ZERO = /^[\p{Mn}\p{Me}\p{Cf}]$/u;
const EMOJI = /^\p{Emoji_Presentation}$/u;

/** Wide and fullwidth ranges (Unicode East_Asian_Width W and F). */
const WIDE: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f],
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x1f300, 0x1f64f],
  [0x1f900, 0x1f9ff],
  [0x20000, 0x2fffd],
  [0x30000, 0x3fffd],
];

function isWide(cp: number): boolean {
  for (const [lo, hi] of WIDE) {
    if (cp < lo) return false;
    if (cp <= hi) return true;
  }
  return false;
}

/** Cells taken by one code point. */
export function charCells(ch: string): number {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if (cp < 0x300) return 1;
  if (ZERO.test(ch)) return 0;
  if (isWide(cp) || EMOJI.test(ch)) return 2;
  return 1;
}

/** Cells taken by a string. */
export function cellWidth(s: string): number {
  let n = 0;
  for (const ch of s) n += charCells(ch);
  return n;
}

/** Pads `s` with spaces to `width` cells (a longer string is left as is). */
export function padCells(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - cellWidth(s)));
}

/** Pads on the left, for numbers in a column. */
export function padCellsStart(s: string, width: number): string {
  return ' '.repeat(Math.max(0, width - cellWidth(s))) + s;
}

/**
 * Cuts `s` to exactly `width` cells, marking a cut with "~" (ASCII, safe on
 * any terminal); a wide character that would straddle the edge is dropped.
 */
export function fitCells(s: string, width: number): string {
  if (width <= 0) return '';
  if (cellWidth(s) <= width) return padCells(s, width);
  let out = '';
  let used = 0;
  for (const ch of s) {
    const w = charCells(ch);
    if (used + w > width - 1) break;
    out += ch;
    used += w;
  }
  return `${padCells(out, width - 1)}~`;
}

/** Keeps the end of `s`, which says more than its start: "~/deep/folder". */
export function fitCellsEnd(s: string, width: number): string {
  if (cellWidth(s) <= width) return s;
  const chars = [...s];
  let out = '';
  let used = 0;
  for (let i = chars.length - 1; i >= 0; i--) {
    const ch = chars[i] as string;
    const w = charCells(ch);
    if (used + w > width - 1) break;
    out = ch + out;
    used += w;
  }
  return `~${out}`;
}

interface BlessedUnicode {
  charWidth(str: string | number, i?: number): number;
  codePointAt(str: string, i: number): number;
  chars: { all: RegExp; wide: RegExp };
}

let patched = false;

/** Colour and attribute sequences, which take no cells. */
const SGR = new RegExp(`${String.fromCharCode(0x1b)}\\[[\\d;]*m`, 'g');

/**
 * blessed's own tables count emoji inside the Basic Multilingual Plane (☕,
 * ✅) as one cell where terminals draw two: teach it the same widths as here.
 */
export function teachBlessedWidths(): void {
  if (patched) return;
  patched = true;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const u = require('blessed/lib/unicode') as BlessedUnicode;
  const original = u.charWidth.bind(u);
  u.charWidth = (str: string | number, i?: number): number => {
    const cp = typeof str === 'number' ? str : u.codePointAt(str, i ?? 0);
    if (cp >= 0x1100 && cp <= 0x10ffff && charCells(String.fromCodePoint(cp)) === 2) return 2;
    return original(str, i);
  };
  let bmpEmoji = '';
  for (let cp = 0x2000; cp <= 0xffff; cp++) {
    if (EMOJI.test(String.fromCodePoint(cp))) bmpEmoji += `\\u${cp.toString(16).padStart(4, '0')}`;
  }
  const all = u.chars.all.source.slice(1, -1);
  // Emoji beyond the BMP (U+1F300 to U+1F64F, U+1F680 to U+1F6FF, U+1F900 to U+1F9FF),
  // as the UTF-16 pairs blessed's expressions match.
  const astral =
    '\\ud83c[\\udf00-\\udfff]|\\ud83d[\\udc00-\\ude4f\\ude80-\\udeff]|\\ud83e[\\udd00-\\uddff]';
  u.chars.all = new RegExp(`(${all}|${astral}|[${bmpEmoji}])`, 'g');
  // blessed wraps lines by counting UTF-16 units, so a line with combining
  // marks or emoji beyond the BMP looks longer than it is and loses its end
  // (a pane row its date): widen the wrap by the difference.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const element = require('blessed/lib/widgets/element') as {
    prototype: { _wrapContent(this: unknown, content: string, width: number): unknown };
  };
  const wrap = element.prototype._wrapContent;
  element.prototype._wrapContent = function (this: unknown, content: string, width: number) {
    let extra = 0;
    if (typeof content === 'string' && /[^ -\u02ff\n\t]/.test(content)) {
      for (const line of content.split('\n')) {
        const plain = line.replace(SGR, '');
        extra = Math.max(extra, plain.length - cellWidth(plain));
      }
    }
    return wrap.call(this, content, width + extra);
  };
}
