/**
 * The client's commands, shared by the full screen and batch mode: a line is
 * split into words (shell quoting), looked up in the table, checked, and run
 * against a ClientSession. Results come back as text; failures as CommandError
 * or the engine's own errors, which `describeFailure` turns into one line.
 */
import { ShellWordsError, shellWords } from '../util/shell-words';
import { ClientError, NotFoundError, PermissionError } from './errors';
import { formatDate, formatSizeShort } from './format';
import type { FileEntry } from './listing';
import { bookmark, mirror, putOrGet, remove } from './command-runs';
import type { ClientSession } from './session';
import type { CommandIo, CommandResult, Parsed } from './command-types';
import { nearest } from '../util/nearest';

export type { CommandIo, CommandResult, Parsed } from './command-types';

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

export interface CommandSpec {
  name: string;
  aliases?: string[];
  usage: string;
  summary: string;
  /** More lines for `help NAME`. */
  details?: string;
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

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'put',
    aliases: ['mput'],
    usage: 'put [-f] FILE [TARGET]',
    summary: 'upload a file, folder or *.txt (resumes; see -f)',
    minArgs: 1,
    maxArgs: 2,
    flags: ['-f', '-r'],
    run: (s, io, p) => putOrGet(s, io, 'put', p),
  },
  {
    name: 'get',
    aliases: ['mget'],
    usage: 'get [-f] FILE [TARGET]',
    summary: 'download (*.txt too), to TARGET folder or file',
    minArgs: 1,
    maxArgs: 2,
    flags: ['-f', '-r'],
    run: (s, io, p) => putOrGet(s, io, 'get', p),
  },
  {
    name: 'mirror',
    usage: 'mirror [OPTIONS] SRC DST',
    summary: 'copy remote SRC to local DST; see help mirror',
    details: [
      '',
      '    -R          the other way: local SRC to remote DST',
      '    --delete    also delete what DST holds and SRC does not',
      '    --dry-run   show the plan only',
      '    --checksum  compare same-size files by MD5 instead of by time',
    ].join('\n'),
    minArgs: 2,
    maxArgs: 2,
    flags: ['-R', '--delete', '--dry-run', '--checksum'],
    run: mirror,
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
    summary: 'delete a remote file, folder or *.log (asks first)',
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
    name: 'bookmark',
    usage: 'bookmark add|list|del …',
    summary: 'save a host under a name (miniftp NAME)',
    details: [
      '',
      '    bookmark add NAME [[user@]host[:port] [KEYFILE]]   (default: this connection)',
      '    bookmark list',
      '    bookmark del NAME',
    ].join('\n'),
    minArgs: 1,
    maxArgs: 4,
    run: (s, _io, p) => bookmark(s, p),
  },
  {
    name: 'open',
    usage: 'open NAME|[user@]host[:port]',
    summary: 'connect to another server or a bookmark',
    minArgs: 1,
    maxArgs: 1,
    run: async (s, _io, { args }) => {
      if (!s.link) throw new ClientError('open: this session cannot connect elsewhere');
      const to = await s.link.open(args[0] as string);
      return { text: `connected to ${to.user}@${to.host}:${to.port}`, changed: true };
    },
  },
  {
    name: 'reconnect',
    usage: 'reconnect',
    summary: 'connect to the server again (also after a kick)',
    minArgs: 0,
    maxArgs: 0,
    run: async (s) => {
      if (!s.link) throw new ClientError('reconnect: this session cannot reconnect');
      await s.link.reconnect();
      return { text: 'reconnected', changed: true };
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
      return { text: `${spec.usage}\n    ${spec.summary}${spec.details ?? ''}` };
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

/** Commands that do not need the server. */
const OFFLINE = new Set([
  'lcd',
  'lls',
  'lpwd',
  'lmkdir',
  'help',
  'bye',
  'reconnect',
  'bookmark',
  'open',
]);

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}

/** One line a command: its syntax, then what it does. */
export function commandList(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length)) + 2;
  return COMMANDS.map((c) => `${c.usage.padEnd(width)}${c.summary}`).join('\n');
}

/**
 * The commands' names on one line of at most 78 columns, for a short hint:
 * as many as fit, in table order, then "... help bye" when some had to go
 * (`help` lists them all).
 */
export function commandNames(): string {
  const all = COMMANDS.map((c) => c.name);
  const full = `commands: ${all.join(' ')}`;
  if (full.length <= 78) return full;
  const tail = ' ... help bye';
  let line = 'commands:';
  for (const name of all.filter((n) => n !== 'help' && n !== 'bye')) {
    if (line.length + 1 + name.length + tail.length > 78) break;
    line += ` ${name}`;
  }
  return line + tail;
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
  // After a lost connection the next command that needs the server waits for a new one.
  if (session.link && session.link.state !== 'connected' && !OFFLINE.has(found.spec.name)) {
    await session.link.ensure();
  }
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
