/**
 * A line typed on the command line, run: `help` opens the scrollable help,
 * `rm` asks first, the result goes to the log and the panes follow changes.
 */
import {
  UnknownCommandError,
  commandNames,
  describeFailure,
  executeLine,
  parseLine,
  type CommandIo,
} from '../commands';
import type { ScreenContext } from './context';
import { confirmRemoveFile } from './pane-actions';

export interface CommandRunHooks {
  io: CommandIo;
  /** Opens the help with the commands first. */
  help(): void;
  /** `bye`: quits (after a question while transfers run). */
  quit(): Promise<void>;
}

export async function runCommandLine(
  ctx: ScreenContext,
  line: string,
  hooks: CommandRunHooks,
): Promise<void> {
  try {
    // The log shows a few rows only: the bare list goes in the scrollable help.
    const found = parseLine(line);
    if (found?.spec.name === 'help' && found.parsed.args.length === 0) {
      hooks.help();
      return;
    }
    if (found?.spec.name === 'rm' && !(await confirmRemoveFile(ctx, found.parsed.args[0]))) {
      return;
    }
    const result = await executeLine(ctx.session, hooks.io, line);
    if (result.text) ctx.info(result.text);
    if (result.quit) {
      await hooks.quit();
      return;
    }
    if (result.changed) await ctx.refresh();
  } catch (err) {
    if (err instanceof UnknownCommandError) {
      // Two lines in the log, not a dialog: the next thing the user types
      // (the right command, or bye) must reach the command line.
      ctx.error(err.hint);
      ctx.info(commandNames(), ctx.theme.dimTag);
    } else ctx.error(describeFailure(line, err));
  }
  ctx.render();
}
