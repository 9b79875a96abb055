/**
 * Wildcards in `put`, `get` and `rm`: `*` (any run of characters), `?` (one
 * character) and `[abc]` / `[a-z]` / `[!abc]` (one of, or none of, a set).
 * Only the last part of a path may hold them (`logs/*.txt`, not `* /a.txt`);
 * the folder before it is taken as written. As in a shell, a name starting
 * with "." is matched only by a pattern that starts with "." too, and `[*]`
 * stands for a literal `*`. Local patterns are matched against the local
 * folder's listing, remote ones against the server's listing of the folder.
 */
import * as path from 'node:path';
import { ClientError } from './errors';
import type { FileEntry } from './listing';

const SPECIAL = /[*?[]/;

/** Whether a word is a pattern: it holds `*`, `?` or `[` in its last part. */
export function hasGlob(word: string): boolean {
  return SPECIAL.test(lastPart(word));
}

function lastPart(word: string): string {
  const cut = Math.max(word.lastIndexOf('/'), word.lastIndexOf('\\'));
  return word.slice(cut + 1);
}

/** The set starting at pattern[i] === '[' as a RegExp class, and where it ends; null if unclosed. */
function charClass(pattern: string, i: number): { source: string; end: number } | null {
  let j = i + 1;
  let negate = false;
  if (pattern[j] === '!' || pattern[j] === '^') {
    negate = true;
    j++;
  }
  const start = j;
  // A "]" first in the set is a member, not its end.
  if (pattern[j] === ']') j++;
  while (j < pattern.length && pattern[j] !== ']') j++;
  if (j >= pattern.length) return null;
  const body = pattern
    .slice(start, j)
    .replace(/[\\\]^]/g, (c) => `\\${c}`)
    // "-" at either end is a member; elsewhere it makes a range, as in RegExp.
    .replace(/^-|-$/g, '\\-');
  return { source: `[${negate ? '^' : ''}${body}]`, end: j };
}

/** The RegExp for one path part's pattern (anchored at both ends). */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      const set = charClass(pattern, i);
      if (set) {
        source += set.source;
        i = set.end;
      } else source += '\\[';
    } else source += c.replace(/[.+^${}()|\\\]]/g, (m) => `\\${m}`);
  }
  return new RegExp(`^${source}$`, 's');
}

/** The entries of a listing whose names the pattern matches, in listing order. */
export function matchEntries(pattern: string, entries: readonly FileEntry[]): FileEntry[] {
  const re = globToRegExp(pattern);
  const dotted = pattern.startsWith('.');
  return entries.filter((e) => (dotted || !e.name.startsWith('.')) && re.test(e.name));
}

/**
 * Expands a pattern against the folder it names. `list` lists that folder
 * (already resolved by the caller's `resolve`); the result keeps the folder
 * part as the user wrote it, so messages show the user's own words.
 */
export async function expandGlob(
  word: string,
  side: 'local' | 'remote',
  list: (folder: string) => Promise<FileEntry[]>,
): Promise<string[]> {
  const sep = side === 'remote' ? path.posix : path;
  const part = lastPart(word);
  const folder = word.slice(0, word.length - part.length);
  let entries: FileEntry[];
  try {
    entries = await list(folder === '' ? '.' : folder);
  } catch (err) {
    throw new ClientError(`${word}: cannot list the ${side} folder ${folder || '.'}`, {
      cause: err,
    });
  }
  const names = matchEntries(part, entries).map((e) => e.name);
  if (names.length === 0) throw new ClientError(`no ${side} file or folder matches the pattern`);
  return names.map((n) => (folder === '' ? n : sep.join(folder, n)));
}
