/**
 * `mirror [-R] [--delete] [--dry-run] [--checksum] SRC DST`, with lftp's
 * meaning: without -R the remote folder SRC is copied into the local folder
 * DST, with -R the local SRC into the remote DST. DST becomes a copy of SRC.
 *
 * A file is sent when DST lacks it, or when the sizes differ, or when the
 * modification times differ (in whole seconds: SFTP v3 carries no more); with
 * --checksum, files of the same size are compared by MD5 instead of by time
 * (the server hashes its side: check-file). A shorter file at DST goes
 * through the transfer engine like any other, which continues it when MD5
 * proves its bytes are the start of the source, and starts over otherwise.
 * After each transfer the copy gets the source's modification time, so a
 * second run finds nothing to do. With --delete, what DST holds and SRC does
 * not is deleted, last, and only when every transfer went well. The plan is
 * computed first and shown; --dry-run stops there. A name that is a folder
 * on one side and a file on the other stops the mirror before any change.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ClientError, NotFoundError } from './errors';
import { isDirAttrs, listLocal, type FileEntry } from './listing';
import type { ClientSession } from './session';
import { remoteMd5 } from './transfer';
import { describeOutcome, type Direction, type TransferJob } from './transfer-queue';

export interface MirrorOptions {
  /** -R: local SRC to remote DST. */
  reverse: boolean;
  delete: boolean;
  dryRun: boolean;
  checksum: boolean;
}

/** One side of the mirror: the local disk or the server. */
interface Side {
  readonly name: 'local' | 'remote';
  join(dir: string, name: string): string;
  list(dir: string): Promise<FileEntry[]>;
  /** Whether `p` is a folder; undefined when nothing is there. */
  kind(p: string): Promise<'dir' | 'file' | undefined>;
  md5(p: string): Promise<string>;
  mkdir(p: string): Promise<void>;
  remove(p: string, isDir: boolean): Promise<void>;
  setMtime(p: string, seconds: number): Promise<void>;
}

function localSide(): Side {
  return {
    name: 'local',
    join: (d, n) => path.join(d, n),
    list: (d) => listLocal(d),
    kind: (p) =>
      fsp.stat(p).then(
        (st) => (st.isDirectory() ? 'dir' : 'file'),
        () => undefined,
      ),
    md5: (p) =>
      new Promise((resolve, reject) => {
        const hash = createHash('md5');
        createReadStream(p)
          .on('data', (chunk) => hash.update(chunk))
          .on('error', reject)
          .on('end', () => resolve(hash.digest('hex')));
      }),
    mkdir: async (p) => {
      await fsp.mkdir(p, { recursive: true });
    },
    remove: (p, isDir) => (isDir ? fsp.rm(p, { recursive: true }) : fsp.unlink(p)),
    setMtime: (p, seconds) => fsp.utimes(p, seconds, seconds),
  };
}

function remoteSide(s: ClientSession): Side {
  const removeTree = async (dir: string): Promise<void> => {
    for (const e of await s.sftp.list(dir)) {
      const child = path.posix.join(dir, e.filename);
      if (isDirAttrs(e.attrs)) await removeTree(child);
      else await s.sftp.remove(child);
    }
    await s.sftp.rmdir(dir);
  };
  return {
    name: 'remote',
    join: (d, n) => path.posix.join(d, n),
    list: (d) => s.listRemote(d),
    kind: async (p) => {
      try {
        return isDirAttrs(await s.sftp.stat(p)) ? 'dir' : 'file';
      } catch (err) {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      }
    },
    md5: (p) => remoteMd5(s.sftp, p),
    mkdir: (p) => s.sftp.mkdir(p),
    remove: (p, isDir) => (isDir ? removeTree(p) : s.sftp.remove(p)),
    setMtime: (p, seconds) => s.sftp.setstat(p, { atime: seconds, mtime: seconds }),
  };
}

export type Step =
  | { kind: 'mkdir'; rel: string }
  | { kind: 'send'; rel: string; reason: string; size: number; mtime: number }
  | { kind: 'delete'; rel: string; isDir: boolean };

export interface MirrorPlan {
  direction: Direction;
  src: string;
  dst: string;
  steps: Step[];
  /** Files already the same on both sides. */
  same: number;
}

const seconds = (d: Date | undefined): number | undefined =>
  d === undefined ? undefined : Math.floor(d.getTime() / 1000);

class Planner {
  readonly steps: Step[] = [];
  same = 0;

  constructor(
    private readonly src: Side,
    private readonly dst: Side,
    private readonly o: MirrorOptions,
  ) {}

  async walk(srcDir: string, dstDir: string, dstExists: boolean, rel: string): Promise<void> {
    const srcEntries = await this.src.list(srcDir);
    const dstEntries = dstExists ? await this.dst.list(dstDir) : [];
    const left = new Map(dstEntries.map((e) => [e.name, e]));
    for (const e of srcEntries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      const d = left.get(e.name);
      left.delete(e.name);
      if (d && d.isDir !== e.isDir) {
        throw new ClientError(
          `mirror: ${r} is a ${e.isDir ? 'folder' : 'file'} on the ${this.src.name} side and a ` +
            `${d.isDir ? 'folder' : 'file'} on the ${this.dst.name} side; move one aside first`,
        );
      }
      const srcPath = this.src.join(srcDir, e.name);
      const dstPath = this.dst.join(dstDir, e.name);
      if (e.isDir) {
        if (!d) this.steps.push({ kind: 'mkdir', rel: r });
        await this.walk(srcPath, dstPath, d !== undefined, r);
        continue;
      }
      const mtime = seconds(e.mtime);
      // A link whose target cannot be read has nothing to send.
      if (mtime === undefined) continue;
      const reason = await this.why(e, mtime, d, srcPath, dstPath);
      if (reason) this.steps.push({ kind: 'send', rel: r, reason, size: e.size, mtime });
      else this.same++;
    }
    if (!this.o.delete) return;
    for (const d of left.values()) {
      this.steps.push({
        kind: 'delete',
        rel: rel === '' ? d.name : `${rel}/${d.name}`,
        isDir: d.isDir,
      });
    }
  }

  private async why(
    e: FileEntry,
    mtime: number,
    d: FileEntry | undefined,
    srcPath: string,
    dstPath: string,
  ): Promise<string | undefined> {
    if (!d) return 'new';
    if (d.size < e.size) return 'shorter there (continued if MD5 proves its start)';
    if (d.size !== e.size) return 'size differs';
    if (this.o.checksum) {
      const [a, b] = await Promise.all([this.src.md5(srcPath), this.dst.md5(dstPath)]);
      return a === b ? undefined : 'MD5 differs';
    }
    return seconds(d.mtime) === mtime ? undefined : 'time differs';
  }
}

/** Works out what `mirror` would do, changing nothing. */
export async function planMirror(
  s: ClientSession,
  srcWord: string,
  dstWord: string,
  o: MirrorOptions,
): Promise<MirrorPlan> {
  const [src, dst] = o.reverse ? [localSide(), remoteSide(s)] : [remoteSide(s), localSide()];
  const srcPath = o.reverse ? s.resolveLocal(srcWord) : s.resolveRemote(srcWord);
  const dstPath = o.reverse ? s.resolveRemote(dstWord) : s.resolveLocal(dstWord);
  const srcKind = await src.kind(srcPath);
  if (srcKind === undefined) throw new ClientError(`mirror: no ${src.name} folder ${srcWord}`);
  if (srcKind !== 'dir') throw new ClientError(`mirror: ${srcWord} is not a folder`);
  const dstKind = await dst.kind(dstPath);
  if (dstKind === 'file') throw new ClientError(`mirror: ${dstWord} is a ${dst.name} file`);
  if (o.checksum && !s.sftp.canCheckFile()) {
    throw new ClientError('mirror --checksum: the server offers no check-file to hash its files');
  }
  const planner = new Planner(src, dst, o);
  if (dstKind === undefined) planner.steps.push({ kind: 'mkdir', rel: '.' });
  await planner.walk(srcPath, dstPath, dstKind !== undefined, '');
  return {
    direction: o.reverse ? 'put' : 'get',
    src: srcPath,
    dst: dstPath,
    steps: planner.steps,
    same: planner.same,
  };
}

/** The plan as lines: `get a/b.txt (new, 12 bytes)`, `mkdir a`, `delete old.txt`. */
export function describePlan(plan: MirrorPlan): string {
  const lines = plan.steps.map((st) => {
    if (st.kind === 'mkdir') return `  mkdir ${st.rel}`;
    if (st.kind === 'delete') return `  delete ${st.rel}${st.isDir ? '/' : ''}`;
    return `  ${plan.direction} ${st.rel} (${st.reason}, ${st.size} bytes)`;
  });
  const sends = plan.steps.filter((st) => st.kind === 'send').length;
  const deletes = plan.steps.filter((st) => st.kind === 'delete').length;
  const head =
    `mirror plan: ${sends} to ${plan.direction === 'put' ? 'upload' : 'download'}, ` +
    `${deletes} to delete, ${plan.same} already the same`;
  return [head, ...lines].join('\n');
}

/** Carries out a plan. Returns one line per transfer and a summary. */
export async function runMirror(
  s: ClientSession,
  plan: MirrorPlan,
  o: MirrorOptions,
): Promise<string> {
  const [, dst] = o.reverse ? [localSide(), remoteSide(s)] : [remoteSide(s), localSide()];
  const at = (rel: string): string => (rel === '.' ? plan.dst : dst.join(plan.dst, rel));
  const from = (rel: string): string =>
    o.reverse ? path.join(plan.src, rel) : path.posix.join(plan.src, rel);
  for (const st of plan.steps) if (st.kind === 'mkdir') await dst.mkdir(at(st.rel));
  const sends = plan.steps.filter((st) => st.kind === 'send');
  const jobs: Array<{ job: TransferJob; mtime: number }> = sends.map((st) => ({
    mtime: st.mtime,
    job: s.queue.enqueue({
      direction: plan.direction,
      localPath: o.reverse ? from(st.rel) : at(st.rel),
      remotePath: o.reverse ? at(st.rel) : from(st.rel),
      // DST is to become a copy: a refused resume starts over.
      force: true,
      size: st.size,
    }),
  }));
  // Each copy gets its time as soon as it is done: over a long link one
  // SETSTAT after another would cost a round trip per file.
  const outcomes = await Promise.all(
    jobs.map(async ({ job, mtime }) => {
      try {
        await job.done;
        await dst.setMtime(o.reverse ? job.remotePath : job.localPath, mtime);
        return { line: describeOutcome(job, false), ok: true };
      } catch (err) {
        const line =
          job.state === 'failed' || job.state === 'cancelled'
            ? describeOutcome(job, false)
            : `${job.direction} ${job.label}: ${err instanceof Error ? err.message : String(err)}`;
        return { line, ok: false };
      }
    }),
  );
  const lines = outcomes.map((r) => r.line);
  const failed = outcomes.filter((r) => !r.ok).map((r) => r.line);
  const deletes = plan.steps.filter((st) => st.kind === 'delete');
  if (failed.length > 0) {
    const skipped = deletes.length > 0 ? `; ${deletes.length} deletions not done` : '';
    throw new ClientError(
      `${lines.join('\n')}\nmirror: ${failed.length} of ${jobs.length} transfers failed${skipped}`,
    );
  }
  for (const st of deletes) {
    await dst.remove(at(st.rel), st.isDir);
    lines.push(`deleted ${st.rel}`);
  }
  lines.push(
    `mirror: done, ${jobs.length} transferred, ${deletes.length} deleted, ${plan.same} already the same`,
  );
  return lines.join('\n');
}
