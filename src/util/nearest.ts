/** The word a mistyped one most likely meant: for "did you mean" hints. */

/** Edits (insert, delete, replace, swap two neighbours) from `a` to `b`. */
function distance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) (d[0] as number[])[j] = j;
  const at = (i: number, j: number): number => (d[i] as number[])[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, at(i - 2, j - 2) + 1);
      }
      (d[i] as number[])[j] = v;
    }
  }
  return at(a.length, b.length);
}

/**
 * The candidate closest to `typed`, if any is close: one edit for words of up
 * to three letters, two for longer ones; a candidate that starts with what
 * was typed (two letters or more) counts as closer than one edit. Each
 * candidate is a word to compare and the name to suggest for it (an alias
 * suggests its command).
 */
export function nearest(
  typed: string,
  candidates: Iterable<{ word: string; name: string }>,
): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const c of candidates) {
    const d = c.word.startsWith(typed) && typed.length >= 2 ? 0.5 : distance(typed, c.word);
    if (!best || d < best.d) best = { name: c.name, d };
  }
  const limit = typed.length <= 3 ? 1 : 2;
  return best && best.d <= limit ? best.name : undefined;
}
