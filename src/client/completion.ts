/**
 * What Tab completes on the command line: the command's name first, then
 * local or remote paths, depending on the command and the argument (`put`
 * takes a local file then a remote target; `get` the other way round;
 * `mirror` without -R a remote SRC and a local DST, with -R the reverse;
 * `lcd`, `lls` and `lmkdir` local; the rest remote). Folders end in "/".
 */
import { shellWords } from '../util/shell-words';
import { COMMANDS, findCommand } from './commands';
import type { FileEntry } from './listing';
import type { ClientSession } from './session';

const LOCAL_ONLY = new Set(['lcd', 'lls', 'lmkdir']);

/** Which side the n-th argument (from 0) of a command names; undefined for none. */
export function sideOf(
  command: string,
  n: number,
  flags: readonly string[],
): 'local' | 'remote' | undefined {
  const spec = findCommand(command);
  if (!spec || spec.maxArgs === 0 || n >= spec.maxArgs) return undefined;
  if (LOCAL_ONLY.has(spec.name)) return 'local';
  if (spec.name === 'help') return undefined;
  const firstLocal =
    spec.name === 'put' || (spec.name === 'mirror' && flags.includes('-R')) ? true : false;
  const swaps = spec.name === 'put' || spec.name === 'get' || spec.name === 'mirror';
  if (!swaps) return 'remote';
  const local = n === 0 ? firstLocal : !firstLocal;
  return local ? 'local' : 'remote';
}

/** Names in `entries` for a word `dir/part`: `dir/` + name, folders with a "/". */
function candidates(word: string, entries: readonly FileEntry[]): string[] {
  const cut = word.lastIndexOf('/') + 1;
  const dir = word.slice(0, cut);
  const part = word.slice(cut);
  return entries
    .filter((e) => e.name.startsWith(part) && (part.startsWith('.') || !e.name.startsWith('.')))
    .map((e) => `${dir}${e.name}${e.isDir ? '/' : ''}`);
}

/** The completer for the screen's command line. */
export function commandCompleter(
  s: ClientSession,
): (before: string, word: string) => Promise<string[]> {
  return async (before, word) => {
    let words: string[];
    try {
      words = shellWords(before);
    } catch {
      return [];
    }
    // A word being typed is the last one; after a space a new one starts.
    const done = word === '' ? words : words.slice(0, -1);
    if (done.length === 0) {
      return COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])]).filter(
        (n) => n !== '?' && n.startsWith(word),
      );
    }
    const [command, ...rest] = done as [string, ...string[]];
    if (findCommand(command)?.name === 'help' && rest.length === 0) {
      return COMMANDS.map((c) => c.name).filter((n) => n.startsWith(word));
    }
    const flags = rest.filter((w) => w.startsWith('-'));
    const side = sideOf(command, rest.length - flags.length, flags);
    if (side === undefined) return [];
    const cut = word.lastIndexOf('/') + 1;
    const dir = word.slice(0, cut) || '.';
    try {
      const entries =
        side === 'local'
          ? await s.listLocal(s.resolveLocal(dir))
          : await s.listRemote(s.resolveRemote(dir));
      return candidates(word, entries);
    } catch {
      return [];
    }
  };
}
