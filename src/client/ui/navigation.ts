/** Moving between folders in a pane: Enter opens, Backspace goes up. */
import * as path from 'node:path';
import { describeFailure } from '../commands';
import type { ScreenContext, Side } from './context';
import { PARENT } from './file-pane';

function cwd(ctx: ScreenContext, side: Side): string {
  return side === 'local' ? ctx.session.localCwd : ctx.session.remoteCwd;
}

export async function changeDir(
  ctx: ScreenContext,
  side: Side,
  to: string,
  keep?: string,
): Promise<void> {
  try {
    if (side === 'local') await ctx.session.cdLocal(to);
    else await ctx.session.cdRemote(to);
  } catch (err) {
    ctx.error(describeFailure(`cd ${to}`, err));
    return;
  }
  ctx.panes[side].filter = '';
  ctx.panes[side].list.select(0);
  await ctx.refresh(side, keep ?? PARENT);
}

/** Enter: opens the folder under the cursor ('..' goes up). */
export async function open(ctx: ScreenContext): Promise<void> {
  const row = ctx.panes[ctx.active].current();
  if (!row) return;
  if (!row.entry) return goUp(ctx);
  if (row.entry.isDir) return changeDir(ctx, ctx.active, row.name);
  ctx.info(`${row.name}: a file; F5 copies it to the other side, F3 shows it`);
}

/** Backspace: the parent folder, with the cursor on the folder just left. */
export async function goUp(ctx: ScreenContext): Promise<void> {
  const side = ctx.active;
  const here = cwd(ctx, side);
  const lib = side === 'local' ? path : path.posix;
  const parent = lib.dirname(here);
  if (parent === here) return;
  await changeDir(ctx, side, '..', lib.basename(here));
}
