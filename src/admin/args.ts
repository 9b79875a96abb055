/**
 * Splits a console line into words and reads a command's options out of them. Nothing here ever
 * reaches a shell: the words go to the command table.
 */
import { MiniftpError } from '../errors';
import { ShellWordsError, shellWords } from '../util/shell-words';

/**
 * Words of `line`, quoted as a POSIX shell quotes them (src/util/shell-words.ts). A line whose
 * first word starts with # is a comment, so scripts fed to `ssh -T` may carry comments.
 */
export function tokenize(line: string): string[] {
  if (line.trimStart().startsWith('#')) return [];
  try {
    return shellWords(line);
  } catch (err) {
    if (err instanceof ShellWordsError) {
      const fix = err.message.includes('quote')
        ? 'add the closing quote'
        : 'write \\\\ for a backslash';
      throw MiniftpError.invalid(`${err.message}: ${fix}`);
    }
    throw err;
  }
}

/** 'switch': present or not (--yes). 'value': takes the next word or =value (--quota 1G). */
export type OptionKind = 'switch' | 'value';
export type OptionSpec = Readonly<Record<string, OptionKind>>;

export class ParsedArgs {
  constructor(
    readonly positionals: readonly string[],
    private readonly switches: ReadonlySet<string>,
    private readonly values: ReadonlyMap<string, string>,
  ) {}

  has(name: string): boolean {
    return this.switches.has(name) || this.values.has(name);
  }

  value(name: string): string | undefined {
    return this.values.get(name);
  }
}

/**
 * Separates options from positional words. Options are `--name`, `--name value` or
 * `--name=value`, anywhere among the words; `--` ends them; a lone `-` and a
 * word like `-1` or `-----BEGIN` (a pasted key) are words.
 */
export function parseArgs(words: readonly string[], spec: OptionSpec): ParsedArgs {
  const positionals: string[] = [];
  const switches = new Set<string>();
  const values = new Map<string, string>();
  let optionsDone = false;
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    // "-1" is a (negative) value, for the command to refuse with its own message.
    if (optionsDone || word === '-' || !word.startsWith('-') || /^(-\d|---)/.test(word)) {
      positionals.push(word);
      continue;
    }
    if (word === '--') {
      optionsDone = true;
      continue;
    }
    if (!word.startsWith('--')) {
      throw MiniftpError.invalid(`unknown option ${word} (options are spelt --name)`);
    }
    const eq = word.indexOf('=');
    const name = word.slice(2, eq < 0 ? undefined : eq);
    const kind = spec[name];
    if (kind === undefined) throw MiniftpError.invalid(`unknown option --${name}`);
    if (kind === 'switch') {
      if (eq >= 0) throw MiniftpError.invalid(`option --${name} takes no value`);
      switches.add(name);
      continue;
    }
    if (eq >= 0) {
      values.set(name, word.slice(eq + 1));
      continue;
    }
    const next = words[i + 1];
    if (next === undefined) throw MiniftpError.invalid(`option --${name} needs a value`);
    values.set(name, next);
    i++;
  }
  return new ParsedArgs(positionals, switches, values);
}
