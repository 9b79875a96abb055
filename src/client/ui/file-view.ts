/**
 * F3 shows the start of a file in a popup; F4 opens it in $EDITOR (or
 * $VISUAL, or vi) and, for a file on the server, uploads it back when the
 * editor saved a change.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as blessed from 'blessed';
import { describeFailure } from '../commands';
import { OpenFlag } from '../../sftp/constants';
import { formatBytes } from '../format';
import { download } from '../transfer';
import type { ScreenContext } from './context';

/** How much of a file F3 shows. */
const VIEW_BYTES = 64 * 1024;

async function head(ctx: ScreenContext, name: string): Promise<{ data: Buffer; size: number }> {
  if (ctx.active === 'local') {
    const fh = await fsp.open(ctx.session.resolveLocal(name), 'r');
    try {
      const size = (await fh.stat()).size;
      const buf = Buffer.alloc(Math.min(size, VIEW_BYTES));
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      return { data: buf.subarray(0, bytesRead), size };
    } finally {
      await fh.close();
    }
  }
  const sftp = ctx.session.sftp;
  const remote = ctx.session.resolveRemote(name);
  const size = (await sftp.stat(remote)).size ?? 0;
  const handle = await sftp.open(remote, OpenFlag.READ);
  try {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < Math.min(size, VIEW_BYTES)) {
      const chunk = await sftp.read(handle, got, Math.min(32 * 1024, VIEW_BYTES - got));
      if (!chunk || chunk.length === 0) break;
      parts.push(chunk);
      got += chunk.length;
    }
    return { data: Buffer.concat(parts), size };
  } finally {
    await sftp.close(handle).catch(() => undefined);
  }
}

/** F3: the start of the file under the cursor, as text. */
export async function viewFile(
  ctx: ScreenContext,
  popup: (label: string, text: string) => void,
): Promise<void> {
  const row = ctx.panes[ctx.active].current();
  if (!row?.entry || row.entry.isDir) {
    ctx.info('F3 views a file: move to one first');
    return;
  }
  try {
    const { data, size } = await head(ctx, row.name);
    if (data.includes(0)) {
      ctx.info(`${row.name}: a binary file of ${formatBytes(size)}; not shown`);
      return;
    }
    const more =
      size > data.length ? `\n(the first ${formatBytes(data.length)} of ${formatBytes(size)})` : '';
    popup(row.name, `${data.toString('utf8')}${more}`);
  } catch (err) {
    ctx.error(describeFailure(`view ${row.name}`, err));
  }
}

function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/** Runs the editor on `file` with the screen handed over; resolves when it exits. */
function runEditor(
  screen: blessed.Widgets.Screen,
  env: NodeJS.ProcessEnv,
  file: string,
): Promise<boolean> {
  const editor = env.VISUAL || env.EDITOR || 'vi';
  return new Promise((resolve) => {
    // The editor line may carry options ("code -w"): run it through the shell.
    screen.exec('/bin/sh', ['-c', `${editor} "$1"`, 'editor', file], {}, (err, ok) =>
      resolve(!err && ok),
    );
  });
}

/** F4: edits the file under the cursor; a remote one is uploaded back when it changed. */
export async function editFile(ctx: ScreenContext, env: NodeJS.ProcessEnv): Promise<void> {
  const side = ctx.active;
  const row = ctx.panes[side].current();
  if (!row?.entry || row.entry.isDir) {
    ctx.info('F4 edits a file: move to one first');
    return;
  }
  if (side === 'local') {
    const ok = await runEditor(ctx.screen, env, ctx.session.resolveLocal(row.name));
    if (!ok) ctx.error(`the editor ended with an error (${env.VISUAL || env.EDITOR || 'vi'})`);
    await ctx.refresh('local', row.name);
    return;
  }
  const remote = ctx.session.resolveRemote(row.name);
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-edit-'));
  const copy = path.join(dir, path.posix.basename(remote));
  try {
    await download(ctx.session.sftp, remote, copy, { resume: 'never' });
    const before = md5(await fsp.readFile(copy));
    const ok = await runEditor(ctx.screen, env, copy);
    if (!ok) {
      ctx.error(`the editor ended with an error; ${row.name} was not uploaded`);
      return;
    }
    if (md5(await fsp.readFile(copy)) === before) {
      ctx.info(`${row.name}: not changed, nothing uploaded`);
      return;
    }
    const job = ctx.session.queue.enqueue({
      direction: 'put',
      localPath: copy,
      remotePath: remote,
      force: true,
      shownAs: `${row.name} (edited)`,
    });
    ctx.info(`${row.name}: changed, uploading it back`);
    await job.done.catch(() => undefined);
  } catch (err) {
    ctx.error(describeFailure(`edit ${row.name}`, err));
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
