/**
 * The client's commands, shared by the full screen and batch mode: a line is
 * split into words (shell quoting), looked up in the table, checked, and run
 * against a ClientSession. Results come back as text; failures as CommandError
 * or the engine's own errors, which `describeFailure` turns into one line.
 */
import { ShellWordsError, shellWords } from '../util/shell-words';
import { ClientError, NotFoundError, PermissionError, ResumeMismatchError } from './errors';
import { formatDate, formatSizeShort } from './format';
import type { FileEntry } from './listing';
import { describePlan, planMirror, runMirror } from './mirror';
import type { ClientSession } from './session';
import { describeOutcome, type TransferJob } from './transfer-queue';
import { nearest } from '../util/nearest';

/** A mistake in the command itself: unknown name, wrong arguments, bad quoting. */
export class CommandError extends Error {}

/**
 * A command name that does not exist. The message carries the hint and the
 * full list (batch mode prints it); the screen shows `hint` and the one-line
 * `commandNames()` instead, so nothing covers the command line.
 */
export class UnknownCommandError extends CommandError {
  constructor(readonly hint: string) {
    super(`${hint}\nCommands:\n${commandList()}`);
  }
}

export interface CommandIo {
  /** Asks a yes/no question (the screen shows a dialog; batch mode answers yes). */
  confirm(question: string): Promise<boolean>;
  /**
   * Batch mode: put/get return once their transfers have ended. The screen:
   * they return once queued and the queue reports the outcome.
   */
  readonly waitForTransfers: boolean;
  /** Shows a line at once, before the command ends (batch mode prints it). */
  say?(text: string): void;
}

export interface CommandResult {
  text?: string;
  /** `bye`: the session should end. */
  quit?: boolean;
  /** The command may have changed a listing or a working folder. */
  changed?: boolean;
}

interface Parsed {
  args: string[];
  flags: Set<string>;
}

export interface CommandSpec {
  name: string;
  aliases?: string[];
  usage: string;
  summary: string;
  minArgs: number;
  maxArgs: number;
  flags?: string[];
  run(s: ClientSession, io: CommandIo, p: Parsed): Promise<CommandResult>;
}

function listingLines(entries: FileEntry[]): string {
  if (entries.length === 0) return '(empty folder)';
  return entries
    .map((e) => {
      const size = e.isDir ? '<dir>' : formatSizeShort(e.size);
      return `${size.padStart(7)}  ${formatDate(e.mtime)}  ${e.name}${e.isDir ? '/' : ''}`;
    })
    .join('\n');
}

async function transfer(io: CommandIo, jobs: TransferJob[]): Promise<CommandResult> {
  if (jobs.length === 0) return { text: 'nothing to transfer (empty folder)', changed: true };
  if (!io.waitForTransfers) {
    const first = jobs[0] as TransferJob;
    const what = jobs.length === 1 ? first.label : `${jobs.length} files`;
    return { text: `queued: ${first.direction} ${what}` };
  }
  const lines: string[] = [];
  for (const job of jobs) {
    try {
      await job.done;
    } catch (err) {
      if (err instanceof ResumeMismatchError) {
        throw new ClientError(
          `${job.direction} ${job.label}: ${err.message}; ` +
            `use '${job.direction} -f' to start over and replace it`,
        );
      }
      throw new ClientError(describeOutcome(job));
    }
    lines.push(describeOutcome(job));
  }
  return { text: lines.join('\n'), changed: true };
}

/**
 * put/get of a file, a folder, or what a wildcard matches (local names for
 * put, the server's listing for get). Several matches need TARGET to be an
 * existing folder, or each would overwrite the one before.
 */
async function putOrGet(
  s: ClientSession,
  io: CommandIo,
  direction: 'put' | 'get',
  { args, flags }: Parsed,
): Promise<CommandResult> {
  const [word, target] = args as [string, string | undefined];
  const sources = direction === 'put' ? await s.expandLocal(word) : await s.expandRemote(word);
  if (sources.length > 1 && target !== undefined) {
    const isDir =
      direction === 'put'
        ? await s.remoteIsDir(s.resolveRemote(target))
        : await s.localIsDir(s.resolveLocal(target));
    if (!isDir) {
      const side = direction === 'put' ? 'remote' : 'local';
      throw new ClientError(
        `${direction} ${word}: ${sources.length} files match, so ${target} must be an existing ${side} folder`,
      );
    }
  }
  const jobs: TransferJob[] = [];
  for (const source of sources) {
    const one =
      direction === 'put'
        ? await s.put(source, target, flags.has('-f'))
        : await s.get(source, target, flags.has('-f'));
    jobs.push(...one);
  }
  return transfer(io, jobs);
}

/** rm of one path, or of what a wildcard matches in the server's listing (asked once). */
async function remove(s: ClientSession, io: CommandIo, word: string): Promise<CommandResult> {
  const targets = await s.expandRemote(word);
  if (targets.length > 1) {
    const shown = targets.slice(0, 8).join(', ') + (targets.length > 8 ? ', …' : '');
    const ok = await io.confirm(
      `Delete the ${targets.length} remote entries matching ${word} (${shown})?`,
    );
    if (!ok) return { text: `kept ${word}` };
  }
  const lines: string[] = [];
  let changed = false;
  for (const p of targets) {
    const done = await s.removeRemote(p, (q) => io.confirm(q));
    changed ||= done;
    lines.push(done ? `deleted ${p}` : `kept ${p}`);
  }
  return { text: lines.join('\n'), changed };
}

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'put',
    aliases: ['mput'],
    usage: 'put [-f] FILE [TARGET]',
    summary: 'upload a file, folder or wildcard (*.txt) (resumes; see -f)',
    minArgs: 1,
    maxArgs: 2,
    flags: ['-f', '-r'],
    run: (s, io, p) => putOrGet(s, io, 'put', p),
  },
  {
    name: 'get',
    aliases: ['mget'],
    usage: 'get [-f] FILE [TARGET]',
    summary: 'download (wildcards too), to TARGET folder or file name',
    minArgs: 1,
    maxArgs: 2,
    flags: ['-f', '-r'],
    run: (s, io, p) => putOrGet(s, io, 'get', p),
  },
  {
    name: 'mirror',
    usage: 'mirror [-R] [--delete] [--dry-run] [--checksum] SRC DST',
    summary: 'make DST a copy of SRC (remote to local; -R local to remote)',
    minArgs: 2,
    maxArgs: 2,
    flags: ['-R', '--delete', '--dry-run', '--checksum'],
    run: async (s, io, { args, flags }) => {
      const o = {
        reverse: flags.has('-R'),
        delete: flags.has('--delete'),
        dryRun: flags.has('--dry-run'),
        checksum: flags.has('--checksum'),
      };
      const plan = await planMirror(s, args[0] as string, args[1] as string, o);
      const text = describePlan(plan);
      if (o.dryRun) return { text: `${text}\ndry run: nothing changed` };
      if (plan.steps.length === 0) return { text: `${text}\nmirror: nothing to do` };
      if (io.say) io.say(text);
      else {
        const lines = text.split('\n');
        const shown = lines.slice(0, 10).join('\n') + (lines.length > 10 ? '\n  …' : '');
        if (!(await io.confirm(`${shown}\nRun this plan?`))) return { text: 'mirror: not run' };
      }
      return { text: await runMirror(s, plan, o), changed: true };
    },
  },
  {
    name: 'ls',
    aliases: ['dir'],
    usage: 'ls [DIR]',
    summary: 'list a remote folder',
    minArgs: 0,
    maxArgs: 1,
    flags: ['-l'],
    run: async (s, _io, { args }) => ({
      text: listingLines(await s.listRemote(s.resolveRemote(args[0] ?? '.'))),
    }),
  },
  {
    name: 'cd',
    usage: 'cd [DIR]',
    summary: 'change the remote folder (cd .. goes up)',
    minArgs: 0,
    maxArgs: 1,
    run: async (s, _io, { args }) => {
      await s.cdRemote(args[0] ?? '~');
      return { text: `remote folder: ${s.remoteCwd}`, changed: true };
    },
  },
  {
    name: 'pwd',
    usage: 'pwd',
    summary: 'show the remote folder',
    minArgs: 0,
    maxArgs: 0,
    run: async (s) => ({ text: `remote folder: ${s.remoteCwd}` }),
  },
  {
    name: 'mkdir',
    usage: 'mkdir DIR',
    summary: 'make a remote folder',
    minArgs: 1,
    maxArgs: 1,
    run: async (s, _io, { args }) => {
      await s.mkdirRemote(args[0] as string);
      return { text: `made remote folder ${args[0] as string}`, changed: true };
    },
  },
  {
    name: 'rm',
    aliases: ['del', 'delete', 'rmdir'],
    usage: 'rm PATH',
    summary: 'delete a remote file, folder or wildcard (asks first)',
    minArgs: 1,
    maxArgs: 1,
    flags: ['-r', '-f'],
    run: (s, io, { args }) => remove(s, io, args[0] as string),
  },
  {
    name: 'rename',
    aliases: ['mv'],
    usage: 'rename OLD NEW',
    summary: 'rename or move a remote file or folder',
    minArgs: 2,
    maxArgs: 2,
    run: async (s, _io, { args }) => {
      const dest = await s.renameRemote(args[0] as string, args[1] as string);
      return { text: `renamed ${args[0] as string} to ${dest}`, changed: true };
    },
  },
  {
    name: 'lcd',
    usage: 'lcd [DIR]',
    summary: 'change the local folder',
    minArgs: 0,
    maxArgs: 1,
    run: async (s, _io, { args }) => {
      await s.cdLocal(args[0] ?? '~');
      return { text: `local folder: ${s.localCwd}`, changed: true };
    },
  },
  {
    name: 'lls',
    usage: 'lls [DIR]',
    summary: 'list a local folder',
    minArgs: 0,
    maxArgs: 1,
    flags: ['-l'],
    run: async (s, _io, { args }) => ({
      text: listingLines(await s.listLocal(s.resolveLocal(args[0] ?? '.'))),
    }),
  },
  {
    name: 'lpwd',
    usage: 'lpwd',
    summary: 'show the local folder',
    minArgs: 0,
    maxArgs: 0,
    run: async (s) => ({ text: `local folder: ${s.localCwd}` }),
  },
  {
    name: 'lmkdir',
    usage: 'lmkdir DIR',
    summary: 'make a local folder',
    minArgs: 1,
    maxArgs: 1,
    run: async (s, _io, { args }) => {
      await s.mkdirLocal(args[0] as string);
      return { text: `made local folder ${args[0] as string}`, changed: true };
    },
  },
  {
    name: 'help',
    aliases: ['?'],
    usage: 'help [COMMAND]',
    summary: 'list the commands, or show one',
    minArgs: 0,
    maxArgs: 1,
    run: async (_s, _io, { args }) => {
      const name = args[0];
      if (name === undefined) return { text: commandList() };
      const spec = findCommand(name);
      if (!spec) throw unknownCommand(name);
      return { text: `${spec.usage}\n    ${spec.summary}` };
    },
  },
  {
    name: 'bye',
    aliases: ['quit', 'exit'],
    usage: 'bye',
    summary: 'end the session',
    minArgs: 0,
    maxArgs: 0,
    run: async () => ({ quit: true }),
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}

/** One line a command: its syntax, then what it does. */
export function commandList(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length)) + 2;
  return COMMANDS.map((c) => `${c.usage.padEnd(width)}${c.summary}`).join('\n');
}

/** Every command's name on one line (under 80 columns), for a short hint. */
export function commandNames(): string {
  return `commands: ${COMMANDS.map((c) => c.name).join(' ')}`;
}

/** Edit distance with transpositions, so "pur" → "put" and "mkdri" → "mkdir" are near. */
/** The command a mistyped name most likely meant, if any is close. */
export function suggest(name: string): string | undefined {
  return nearest(
    name,
    COMMANDS.flatMap((c) =>
      [c.name, ...(c.aliases ?? [])]
        .filter((n) => n !== '?')
        .map((word) => ({ word, name: c.name })),
    ),
  );
}

/** The first line of an unknown command's error. */
export function unknownHint(name: string): string {
  const guess = suggest(name);
  return guess
    ? `unknown command '${name}' — did you mean '${guess}'?`
    : `unknown command '${name}'`;
}

function unknownCommand(name: string): UnknownCommandError {
  return new UnknownCommandError(unknownHint(name));
}

/** Splits a line into the command and its words; null for a blank line or a comment. */
export function parseLine(line: string): { spec: CommandSpec; parsed: Parsed } | null {
  let words: string[];
  try {
    words = shellWords(line);
  } catch (err) {
    if (err instanceof ShellWordsError) throw new CommandError(err.message);
    throw err;
  }
  const name = words[0];
  if (name === undefined || name.startsWith('#')) return null;
  const spec = findCommand(name);
  if (!spec) throw unknownCommand(name);
  const args: string[] = [];
  const flags = new Set<string>();
  let options = true;
  for (const w of words.slice(1)) {
    if (options && w === '--') options = false;
    else if (options && /^--[a-z][a-z-]*$/.test(w)) {
      if (!spec.flags?.includes(w)) {
        throw new CommandError(`${spec.name}: unknown option ${w}\nusage: ${spec.usage}`);
      }
      flags.add(w);
    } else if (options && /^-[a-zA-Z]+$/.test(w)) {
      for (const ch of w.slice(1)) {
        const flag = `-${ch}`;
        if (!spec.flags?.includes(flag)) {
          throw new CommandError(`${spec.name}: unknown option ${flag}\nusage: ${spec.usage}`);
        }
        flags.add(flag);
      }
    } else args.push(w);
  }
  if (args.length < spec.minArgs || args.length > spec.maxArgs) {
    throw new CommandError(`usage: ${spec.usage}`);
  }
  return { spec, parsed: { args, flags } };
}

/** Parses and runs one line. Throws CommandError or the operation's error. */
export async function executeLine(
  session: ClientSession,
  io: CommandIo,
  line: string,
): Promise<CommandResult> {
  const found = parseLine(line);
  if (!found) return {};
  return found.spec.run(session, io, found.parsed);
}

const FS_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such local file or folder',
  EACCES: 'permission denied (local)',
  EPERM: 'permission denied (local)',
  EEXIST: 'already exists (local)',
  ENOTDIR: 'not a folder (local)',
  EISDIR: 'is a folder (local)',
  ENOTEMPTY: 'folder not empty (local)',
  ENOSPC: 'no space left on the local disk',
};

/**
 * One line for a failed command: the server's own message for quota and
 * permission errors, the local error code's meaning for local ones.
 */
export function describeFailure(line: string, err: unknown): string {
  if (err instanceof CommandError) return err.message;
  const words = (() => {
    try {
      return shellWords(line);
    } catch {
      return [line];
    }
  })();
  const what = words.filter((w) => !w.startsWith('-')).join(' ');
  if (err instanceof NotFoundError) return `${what}: no such file or folder on the server`;
  if (err instanceof PermissionError) return `${what}: ${err.message || 'permission denied'}`;
  if (err instanceof ClientError) {
    // Transfer outcomes already name the command and the file.
    return /^(put|get) /.test(err.message) ? err.message : `${what}: ${err.message}`;
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && FS_ERRORS[code]) return `${what}: ${FS_ERRORS[code] as string}`;
  return `${what}: ${err instanceof Error ? err.message : String(err)}`;
}
