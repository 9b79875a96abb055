/**
 * What the function keys do to the marked entries (or the one under the
 * cursor): copy across, rename or move, delete, make a folder, mark by pattern.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { describeFailure } from '../commands';
import type { FileEntry } from '../listing';
import type { ScreenContext, Side } from './context';

/** "report.txt" for one entry, "3 entries" for more. */
function named(entries: FileEntry[]): string {
  return entries.length === 1 ? (entries[0] as FileEntry).name : `${entries.length} entries`;
}

/** The entries to act on, or undefined (with a note) when none is under the cursor. */
function targets(ctx: ScreenContext, what: string): FileEntry[] | undefined {
  const found = ctx.panes[ctx.active].targets();
  if (found.length === 0) {
    ctx.info(`select a file or folder to ${what} (Insert or Space marks several)`);
    return undefined;
  }
  return found;
}

export async function copyTargets(ctx: ScreenContext): Promise<void> {
  const side = ctx.active;
  const entries = targets(ctx, 'copy');
  if (!entries) return;
  const dir = side === 'local' ? 'put' : 'get';
  let queued = 0;
  for (const e of entries) {
    try {
      const jobs =
        side === 'local'
          ? await ctx.session.put(e.name, undefined, false)
          : await ctx.session.get(e.name, undefined, false);
      queued += jobs.length;
    } catch (err) {
      ctx.error(describeFailure(`${dir} ${e.name}`, err));
    }
  }
  ctx.panes[side].marked.clear();
  ctx.panes[side].render();
  const to = side === 'local' ? 'the server' : 'here';
  ctx.info(`queued: ${dir} ${named(entries)} to ${to} (${queued} file${queued === 1 ? '' : 's'})`);
}

export function makeFolder(ctx: ScreenContext): void {
  const side = ctx.active;
  ctx.ask(`New ${side} folder: `, async (name) => {
    if (name.trim() === '') return;
    try {
      if (side === 'local') await ctx.session.mkdirLocal(name);
      else await ctx.session.mkdirRemote(name);
      ctx.info(`made ${side} folder ${name}`);
      await ctx.refresh(side, name);
    } catch (err) {
      ctx.error(describeFailure(`mkdir ${name}`, err));
    }
  });
}

/** Renames one entry, or moves it (or all the marked ones) into a folder. */
export function renameTargets(ctx: ScreenContext): void {
  const side = ctx.active;
  const entries = targets(ctx, 'rename or move');
  if (!entries) return;
  const one = entries.length === 1 ? (entries[0] as FileEntry).name : undefined;
  const prompt = one ? `Rename or move ${one} to: ` : `Move ${entries.length} entries to folder: `;
  ctx.ask(
    prompt,
    async (to) => {
      if (to.trim() === '' || to === one) return;
      let done = 0;
      for (const e of entries) {
        try {
          await moveOne(ctx, side, e.name, to, !one);
          done++;
        } catch (err) {
          ctx.error(describeFailure(`rename ${e.name}`, err));
        }
      }
      if (one && done === 1) ctx.info(`renamed ${one} to ${to}`);
      else if (!one) ctx.info(`moved ${done} of ${entries.length} entries to ${to}`);
      ctx.panes[side].marked.clear();
      await ctx.refresh(side, one ? path.basename(to) : undefined);
    },
    one ?? '',
  );
}

async function moveOne(
  ctx: ScreenContext,
  side: Side,
  name: string,
  to: string,
  intoFolder: boolean,
): Promise<void> {
  if (side === 'remote') {
    await ctx.session.renameRemote(name, intoFolder ? path.posix.join(to, name) : to);
    return;
  }
  let dest = ctx.session.resolveLocal(to);
  const isDir = await fsp.stat(dest).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (intoFolder || isDir) dest = path.join(dest, name);
  await fsp.rename(ctx.session.resolveLocal(name), dest);
}

export async function deleteTargets(ctx: ScreenContext): Promise<void> {
  const side = ctx.active;
  const entries = targets(ctx, 'delete');
  if (!entries) return;
  const first = entries[0] as FileEntry;
  const what =
    entries.length > 1
      ? `the ${entries.length} marked ${side} entries (${entries
          .slice(0, 3)
          .map((e) => e.name)
          .join(', ')}${entries.length > 3 ? ', ...' : ''}), folders with everything in them`
      : first.isDir
        ? `the ${side} folder ${first.name} and everything in it`
        : `the ${side} file ${first.name}`;
  if (!(await ctx.confirm(`Delete ${what}?`))) return;
  const yes = async (): Promise<boolean> => true;
  let deleted = 0;
  for (const e of entries) {
    try {
      if (side === 'local') await ctx.session.removeLocal(e.name, yes);
      else await ctx.session.removeRemote(e.name, yes);
      deleted++;
    } catch (err) {
      ctx.error(describeFailure(`rm ${e.name}`, err));
    }
  }
  ctx.info(
    entries.length === 1 && deleted === 1
      ? `deleted ${first.name}`
      : `deleted ${deleted} of ${entries.length} entries`,
  );
  ctx.panes[side].marked.clear();
  await ctx.refresh(side);
}

/** `+` and `-`: marks or unmarks the entries matching a pattern. */
export function markPattern(ctx: ScreenContext, mark: boolean): void {
  const pane = ctx.panes[ctx.active];
  ctx.ask(
    mark ? 'Mark the entries matching: ' : 'Unmark the entries matching: ',
    async (p) => {
      if (p.trim() === '') return;
      const n = pane.markMatching(p.trim(), mark);
      ctx.info(
        `${mark ? 'marked' : 'unmarked'} ${n} entr${n === 1 ? 'y' : 'ies'} matching ${p.trim()}`,
      );
      ctx.render();
    },
    '*',
  );
}

/** F9: sets the permission bits (octal) of the entry under the cursor or the marked ones. */
export function chmodTargets(ctx: ScreenContext): void {
  const side = ctx.active;
  const entries = targets(ctx, 'change');
  if (!entries) return;
  ctx.ask(`Permissions for ${named(entries)} (octal, like 644): `, async (text) => {
    const t = text.trim();
    if (t === '') return;
    if (!/^[0-7]{3,4}$/.test(t)) {
      ctx.error(`chmod: '${t}' is not an octal mode such as 644 or 0755`);
      return;
    }
    const mode = parseInt(t, 8);
    for (const e of entries) {
      try {
        if (side === 'local') await fsp.chmod(ctx.session.resolveLocal(e.name), mode);
        else
          await ctx.session.sftp.setstat(ctx.session.resolveRemote(e.name), { permissions: mode });
        ctx.info(`chmod ${t} ${e.name}`);
      } catch (err) {
        ctx.error(describeFailure(`chmod ${e.name}`, err));
      }
    }
    await ctx.refresh(side);
  });
}

/**
 * `rm FILE` typed on the screen's command line asks first, as the help says
 * (the session asks about a folder that holds anything). False when kept.
 */
export async function confirmRemoveFile(
  ctx: ScreenContext,
  target: string | undefined,
): Promise<boolean> {
  if (target === undefined) return true;
  const full = ctx.session.resolveRemote(target);
  const isFile = await ctx.session.sftp.lstat(full).then(
    (a) => a.permissions === undefined || (a.permissions & 0o170000) !== 0o040000,
    () => false,
  );
  if (!isFile) return true;
  if (await ctx.confirm(`Delete the remote file ${target}?`)) return true;
  ctx.info(`kept ${target}`);
  return false;
}
