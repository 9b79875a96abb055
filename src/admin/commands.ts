/**
 * The command table: finds the command a line names, checks its options and argument count, runs
 * it, and logs who did what with which outcome. Also help and tab completion, which read the table.
 */
import { MiniftpError, describeError } from '../errors';
import { parseArgs } from './args';
import { folderCommands } from './folder-commands';
import { groupCommands } from './group-commands';
import { keyCommands } from './key-commands';
import { permCommands } from './perm-commands';
import { runMenu } from './menu';
import { sessionCommands } from './session-commands';
import type { Actor, AdminServices, CommandResult, CommandSpec, ConsoleIo } from './types';
import { userCommands } from './user-commands';
import { hookCommands } from './hook-commands';
import { historyCommands } from './history-commands';
import { netCommands } from './net-commands';
import { nearest } from '../util/nearest';

export interface ExecuteEnv {
  readonly actor: Actor;
  readonly io: ConsoleIo;
  /** Runs and prints a nested command line (for the menu). */
  readonly run: (words: string[]) => Promise<boolean>;
}

export interface Executed {
  readonly result: CommandResult;
  /** --json was asked for. */
  readonly json: boolean;
}

/** Options every command takes. */
const COMMON_OPTIONS = { json: 'switch', help: 'switch' } as const;

export class CommandTable {
  private readonly specs: CommandSpec[];

  constructor(private readonly s: AdminServices) {
    this.specs = [
      ...userCommands(s),
      ...keyCommands(s),
      ...sessionCommands(s),
      ...groupCommands(s),
      ...folderCommands(s),
      ...permCommands(s),
      ...(s.ops
        ? [...hookCommands(s.ops), ...historyCommands(s.ops), ...netCommands(s, s.ops)]
        : []),
      ...this.consoleCommands(),
    ];
  }

  /** Every command name, as typed. */
  names(): string[] {
    return this.specs.map((c) => c.name);
  }

  /** Runs one command line already split into words. Throws MiniftpError with a one-line message. */
  async execute(words: readonly string[], env: ExecuteEnv): Promise<Executed> {
    const found = this.find(words);
    if (!found) throw this.unknown(words);
    const { spec, rest } = found;
    const args = parseArgs(rest, { ...spec.options, ...COMMON_OPTIONS });
    const json = args.has('json');
    if (args.has('help')) return { result: this.helpFor(spec), json: false };
    const count = args.positionals.length;
    if (count < (spec.minArgs ?? 0) || count > (spec.maxArgs ?? 0)) {
      throw MiniftpError.invalid(`usage: ${spec.usage}`);
    }
    if (spec.interactiveOnly && !env.io.interactive) {
      throw MiniftpError.invalid(`${spec.name} needs an interactive console (ssh -t)`);
    }
    const target = spec.target ? spec.target(args, env.actor) : args.positionals[0];
    const fields = {
      admin: env.actor.user,
      session: env.actor.session,
      ip: env.actor.ip,
      command: spec.name,
      target,
    };
    try {
      const result = await spec.run({ actor: env.actor, io: env.io, args, run: env.run });
      if (!spec.unlogged)
        this.s.logger.info('admin.command', { ...fields, outcome: 'ok', ...result.log });
      return { result, json };
    } catch (err) {
      if (!spec.unlogged) {
        this.s.logger.warn('admin.command', {
          ...fields,
          outcome: 'failed',
          error: describeError(err),
        });
      }
      throw err;
    }
  }

  /** Candidates for readline's tab completion: command words, then user names as the first argument. */
  async complete(line: string): Promise<[string[], string]> {
    const typed = line.trimStart();
    const words = typed.split(/\s+/);
    const partial = words[words.length - 1] ?? '';
    const before = words.slice(0, -1);
    const options = new Set<string>();
    for (const name of this.names()) {
      const parts = name.split(' ');
      if (before.length < parts.length && before.every((w, i) => parts[i] === w)) {
        const next = parts[before.length] as string;
        if (next.startsWith(partial)) options.add(`${next} `);
      }
    }
    if (options.size === 0 && before.length > 0) {
      const spec = this.find(before);
      // The first argument of most commands is a user name (usage reads "… NAME").
      if (spec && spec.rest.length === 0 && /^\S+(?: \S+)? \[?NAME/.test(spec.spec.usage)) {
        for (const u of await this.s.store.users.list()) {
          if (u.name.startsWith(partial)) options.add(`${u.name} `);
        }
      }
    }
    return [[...options].sort(), partial];
  }

  private find(words: readonly string[]): { spec: CommandSpec; rest: string[] } | undefined {
    for (const size of [2, 1]) {
      if (words.length < size) continue;
      const typed = words.slice(0, size).join(' ');
      const spec = this.specs.find((c) => c.name === typed || c.aliases?.includes(typed));
      if (spec) return { spec, rest: words.slice(size) };
    }
    return undefined;
  }

  /** Commands whose name starts with `group` ("user" → user add, user del…). */
  private group(group: string): CommandSpec[] {
    return this.specs.filter((c) => c.name.startsWith(`${group} `));
  }

  private unknown(words: readonly string[]): MiniftpError {
    const first = words[0] ?? '';
    const members = this.group(first);
    if (members.length > 0) {
      const subs = members.map((c) => c.name.split(' ')[1] ?? '');
      const given = words[1];
      if (given === undefined) {
        return MiniftpError.invalid(
          `${first} needs one of: ${subs.join(', ')} (see: help ${first})`,
        );
      }
      const guess = nearest(
        given,
        subs.map((word) => ({ word, name: `${first} ${word}` })),
      );
      return MiniftpError.invalid(
        `unknown command '${first} ${given}'` +
          (guess ? ` — did you mean '${guess}'?` : `: ${first} takes ${subs.join(', ')}`),
      );
    }
    // Commands by their first word ("user" for user add…), and aliases.
    const firstWords = this.specs.flatMap((c) =>
      [c.name, ...(c.aliases ?? [])].map((n) => {
        const word = n.split(' ')[0] ?? n;
        return { word, name: word };
      }),
    );
    const guess = nearest(first, firstWords);
    return MiniftpError.invalid(
      `unknown command '${first}'` +
        (guess
          ? ` — did you mean '${guess}'? (type help for the list)`
          : ': type help for the list'),
    );
  }

  private helpFor(spec: CommandSpec): CommandResult {
    const text = [`usage: ${spec.usage}`, `  ${spec.summary}`];
    if (spec.details) text.push('', spec.details);
    return {
      text: text.join('\n'),
      json: { name: spec.name, usage: spec.usage, summary: spec.summary },
    };
  }

  /** Usage line, then the summary indented below it: fits an 80-column terminal. */
  private listing(specs: readonly CommandSpec[]): string {
    return specs.map((c) => `${c.usage}\n    ${c.summary}`).join('\n');
  }

  private consoleCommands(): CommandSpec[] {
    return [
      {
        name: 'help',
        aliases: ['?'],
        usage: 'help [COMMAND]',
        summary: 'list the commands, or explain one',
        maxArgs: 2,
        unlogged: true,
        run: async ({ args }) => {
          const words = args.positionals;
          if (words.length === 0) {
            const text =
              `${this.listing(this.specs)}\n\n` +
              `Add --json to a listing for scripts; help COMMAND for details and examples.`;
            return {
              text,
              json: this.specs.map((c) => ({ name: c.name, usage: c.usage, summary: c.summary })),
            };
          }
          const found = this.find(words);
          if (found && found.rest.length === 0) return this.helpFor(found.spec);
          const members = this.group(words.join(' '));
          if (members.length > 0) {
            return {
              text: this.listing(members),
              json: members.map((c) => ({ name: c.name, usage: c.usage, summary: c.summary })),
            };
          }
          throw MiniftpError.invalid(`no command '${words.join(' ')}': type help for the list`);
        },
      },
      {
        name: 'menu',
        usage: 'menu',
        summary: 'the numbered menu: 1 register, 2 delete, 3 view users, 4 modify quota, 5 exit',
        maxArgs: 0,
        interactiveOnly: true,
        unlogged: true,
        run: (ctx) => runMenu(ctx, this.s.defaultQuota),
      },
      {
        name: 'exit',
        aliases: ['quit', 'logout'],
        usage: 'exit',
        summary: 'leave the console (Ctrl-D does too)',
        maxArgs: 0,
        unlogged: true,
        run: async () => ({ text: '', json: null, exit: true }),
      },
    ];
  }
}
