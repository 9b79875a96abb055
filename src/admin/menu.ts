/**
 * The numbered menu of the original brief (1 register, 2 delete, 3 view users, 4 modify quota,
 * 5 exit) for those who know it. Each choice asks its questions, then runs the same command a
 * person would type, so checks, output and logging are the commands' own.
 */
import { Cancelled, type CommandContext, type CommandResult } from './types';
import { quotaText } from './views';

const MENU = [
  '',
  '  1) register a user',
  '  2) delete a user',
  '  3) view users',
  '  4) modify a quota',
  '  5) exit the menu',
].join('\n');

async function choose(ctx: CommandContext, choice: string, defaultQuota: number): Promise<void> {
  const { io } = ctx;
  switch (choice) {
    case '1': {
      const name = (await io.ask('user name: ')).trim();
      const quota = (await io.ask(`quota [${quotaText(defaultQuota)}]: `)).trim();
      await ctx.run(['user', 'add', name, ...(quota === '' ? [] : ['--quota', quota])]);
      return;
    }
    case '2':
      await ctx.run(['user', 'del', (await io.ask('user name: ')).trim()]);
      return;
    case '3':
      await ctx.run(['user', 'list']);
      return;
    case '4': {
      const name = (await io.ask('user name: ')).trim();
      const size = (await io.ask('new quota (like 500M, 1G, unlimited): ')).trim();
      await ctx.run(['quota', name, size]);
      return;
    }
    default:
      io.print('choose a number from 1 to 5');
  }
}

export async function runMenu(ctx: CommandContext, defaultQuota: number): Promise<CommandResult> {
  for (;;) {
    ctx.io.print(MENU);
    let choice: string;
    try {
      choice = (await ctx.io.ask('choice [1-5]: ')).trim();
    } catch (err) {
      if (err instanceof Cancelled) break;
      throw err;
    }
    if (choice === '5' || choice === 'q') break;
    try {
      await choose(ctx, choice, defaultQuota);
    } catch (err) {
      // Ctrl-C in the middle of a choice goes back to the menu.
      if (!(err instanceof Cancelled)) throw err;
      ctx.io.print('cancelled');
    }
  }
  return { text: '', json: null };
}
