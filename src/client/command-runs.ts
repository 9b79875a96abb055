/**
 * What the transfer and delete commands do, beyond parsing: wildcards for
 * put/get/rm and the mirror command (commands.ts holds the table).
 */
import type { CommandIo, CommandResult, Parsed } from './command-types';
import { ClientError, ResumeMismatchError } from './errors';
import { describeBookmarks, type Bookmark } from './bookmarks';
import { parseDestination } from './destination';
import { describePlan, planMirror, runMirror } from './mirror';
import type { ClientSession } from './session';
import { describeOutcome, type TransferJob } from './transfer-queue';

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
export async function putOrGet(
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
export async function remove(
  s: ClientSession,
  io: CommandIo,
  word: string,
): Promise<CommandResult> {
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

/** mirror: the plan first (printed, or asked about in the screen), then the run. */
export async function mirror(
  s: ClientSession,
  io: CommandIo,
  { args, flags }: Parsed,
): Promise<CommandResult> {
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
}

/**
 * bookmark add NAME [[user@]host[:port] [KEYFILE]] (without a destination:
 * the current connection), bookmark list, bookmark del NAME.
 */
export async function bookmark(s: ClientSession, { args }: Parsed): Promise<CommandResult> {
  const [action, name, dest, key] = args as [string, string?, string?, string?];
  const store = s.bookmarks;
  if (!store) throw new ClientError('bookmark: no bookmarks file in this session');
  if (action === 'list' && name === undefined)
    return { text: describeBookmarks(await store.load()) };
  if (action === 'del' && name !== undefined && dest === undefined) {
    if (!(await store.delete(name))) throw new ClientError(`bookmark: no bookmark named ${name}`);
    return { text: `deleted the bookmark ${name}` };
  }
  if (action === 'add' && name !== undefined) {
    let b: Bookmark;
    if (dest === undefined) {
      if (!s.origin) throw new ClientError('bookmark add: give [user@]host[:port]');
      b = s.origin;
    } else {
      const d = parseDestination(dest);
      if (d.host === undefined) throw new ClientError(`bookmark add: no host in ${dest}`);
      b = {
        host: d.host,
        port: d.port ?? s.origin?.port ?? 8808,
        user: d.user ?? s.origin?.user ?? 'anonymous',
        ...(key !== undefined ? { identity: s.resolveLocal(key) } : {}),
      };
    }
    await store.add(name, b);
    const saved = describeBookmarks(new Map([[name, b]]));
    return { text: `saved the bookmark ${saved} in ${store.file}` };
  }
  throw new ClientError(
    'usage: bookmark add NAME [[user@]host[:port] [KEYFILE]] | list | del NAME',
  );
}
