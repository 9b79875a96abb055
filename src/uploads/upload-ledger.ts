/**
 * The upload ledger: for each file a user uploads, how many bytes arrived
 * contiguously from offset 0 and the MD5 of those bytes. A writer that starts
 * at 0 and goes forward has its bytes hashed as they arrive (on a background
 * thread), so after a dropped connection the prefix digest is known without
 * reading the file again.
 */
import * as fs from 'node:fs';
import { MiniftpError, describeError } from '../errors';
import type { Logger } from '../log/types';
import type { Store, UploadRecord } from '../store/types';
import type { HashPool } from '../vfs/hash-pool';
import type { ResumableFs, ResumeRequest, UploadTracker, WrittenFile } from '../vfs/upload-tracker';
import type { VFile, WriteObserver } from '../vfs/vfile';
import { BackgroundMd5 } from './background-md5';
import { PrefixHasher, type DeferredHash } from './prefix-hasher';
import { WRITER_WAIT_MS, resumeUpload } from './resume';
import { WriterLeases, type SharingOptions } from './writer-leases';
import { leasedObserver } from './leased-observer';
import type { Md5State } from './background-md5';
import type { DiskFile, UploadCheckpoint } from '../store/upload-share-types';
import { fileKey } from '../vfs/checked-change';

/** A deferred hash, under the path its file has now (renames move it). */
interface PendingHash {
  user: string;
  path: string;
  /** The file's mtime to record (SETSTAT may move it meanwhile). */
  mtimeMs: number;
  cancelled: boolean;
  done: Promise<void>;
}

/**
 * Finished uploads whose digest may still be in progress at once. Each holds
 * its descriptor open; beyond this many, a CLOSE waits for its own digest.
 */
const MAX_DEFERRED = 32;

/** True when `p` is `dir` or below it. */
function isAtOrUnder(p: string, dir: string): boolean {
  return p === dir || p.startsWith(`${dir}/`);
}

/**
 * One user's records as this process knows them. The paths that have a record are answered from
 * memory (synchronously, on the OPEN / CLOSE / RENAME path) once loaded; the store's copy is
 * written behind, in the order the changes were made.
 */
interface UserRecords {
  /** Paths with a record, as they will be once every write queued in `tail` is done. */
  paths: Set<string> | undefined;
  /** Changes made before `paths` was loaded, applied to it when it is. */
  early: Array<(paths: Set<string>) => void>;
  /** The last store write queued for this user: the next one starts when it is done. */
  tail: Promise<void>;
}

/**
 * The in-process UploadTracker: records in the store, with the paths that
 * have one cached in memory, and one background MD5 thread.
 */
export class UploadLedger implements UploadTracker {
  private readonly background: BackgroundMd5;
  /**
   * Per user, the paths that have a record, loaded on the user's first
   * open for writing or change of names. Most files have none (uploads under 1 MiB, downloads), and each
   * open, close, rename or remove of a file would otherwise cost a store
   * write just to delete nothing, which shows in the
   * CLOSE-to-OPEN time of small files in `put -r` (figures in docs/performance.md).
   */
  private readonly known = new Map<string, UserRecords>();
  private readonly pending = new Set<PendingHash>();
  private closing = false;

  /**
   * `hashing`: where a resume computes the MD5 of a prefix no record describes; `logger`: where
   * a record the store could not take is reported; `sharing`: the store is shared with other
   * processes, which write records, writer leases and checkpoints too.
   */
  constructor(
    private readonly store: Store,
    private readonly hashing: HashPool,
    private readonly logger?: Logger,
    private readonly sharing?: SharingOptions,
  ) {
    this.background = new BackgroundMd5({ keepUp: sharing !== undefined });
    if (sharing) {
      this.leases = new WriterLeases(sharing);
      this.leases.start();
    }
  }

  /** Set when the store is shared with other processes (see writer-leases.ts). */
  private readonly leases: WriterLeases | undefined;

  /**
   * Stops the hashing thread (server shutdown); digests still in progress are dropped. Resolves
   * once every record change has reached the store (or failed, logged).
   */
  async close(): Promise<void> {
    this.closing = true;
    this.leases?.close();
    for (const p of this.pending) p.cancelled = true;
    await this.background.close();
    await Promise.all([...this.pending].map((p) => p.done));
    await Promise.all([...this.known.values()].map((r) => r.tail));
  }

  /**
   * The user's records, loading their paths from the store on first use (queued first, so
   * that every later write lands after the read).
   */
  private recordsOf(user: string): UserRecords {
    let records = this.known.get(user);
    if (records) return records;
    const fresh: UserRecords = { paths: undefined, early: [], tail: Promise.resolve() };
    records = fresh;
    this.known.set(user, fresh);
    fresh.tail = this.store.uploads.paths(user).then(
      (list) => {
        const paths = new Set(list);
        for (const change of fresh.early) change(paths);
        fresh.early = [];
        fresh.paths = paths;
      },
      (err: unknown) => {
        this.logger?.warn('upload.records_unavailable', { user, error: describeError(err) });
        // Tried again on the next change; until then every change goes to the store as is.
        if (this.known.get(user) === fresh && fresh.paths === undefined) this.known.delete(user);
      },
    );
    return records;
  }

  /**
   * Makes a change to the user's records: `change` to the paths in memory now, `write` to the
   * store after the writes queued before it. Not awaited by the callers, whose OPEN, CLOSE or
   * RENAME must not wait on the store (the vfs layer calls in synchronously): a write that
   * fails is logged, and costs at worst a resume that hashes the file instead of reading its
   * digest. `needed`: false when, by the paths in memory, there is nothing to change (most
   * files have no record); without them loaded yet, the write always goes.
   */
  private change(
    user: string,
    needed: (paths: Set<string>) => boolean,
    change: (paths: Set<string>) => void,
    write: () => Promise<void>,
  ): void {
    const records = this.recordsOf(user);
    if (records.paths) {
      // Other processes sharing the store write records too: the paths here may be stale.
      if (!this.sharing && !needed(records.paths)) return;
      change(records.paths);
    } else {
      records.early.push(change);
    }
    records.tail = records.tail.then(write).catch((err: unknown) => {
      this.logger?.warn('upload.record_failed', { user, error: describeError(err) });
    });
  }

  private forget(user: string, path: string): void {
    this.dropCheckpoints(user, path);
    this.change(
      user,
      (paths) => paths.has(path),
      (paths) => paths.delete(path),
      () => this.store.uploads.delete(user, path),
    );
  }

  private moved(user: string, from: string, to: string): void {
    // A moved upload is resumed from its record or from the disk, not from a checkpoint.
    this.dropCheckpoints(user, from);
    this.dropCheckpoints(user, to);
    this.change(
      user,
      (paths) => [...paths].some((p) => isAtOrUnder(p, from) || isAtOrUnder(p, to)),
      (paths) => {
        const moving = [...paths].filter((p) => isAtOrUnder(p, from));
        // Whatever the rename replaced is gone, and so is its record.
        for (const p of [...paths]) if (isAtOrUnder(p, to) || isAtOrUnder(p, from)) paths.delete(p);
        for (const p of moving) paths.add(to + p.slice(from.length));
      },
      () => this.store.uploads.rename(user, from, to),
    );
  }

  /** Resolves once the record changes made so far for `user` have reached the store. */
  private async written(user: string): Promise<void> {
    let records = this.known.get(user);
    // Changes queued while waiting are waited for too, until the last one queued has ended.
    while (records) {
      const tail = records.tail;
      await tail;
      const now = this.known.get(user);
      if (now === records && now.tail === tail) return;
      records = now;
    }
  }

  observe(user: string, path: string, file: WrittenFile): WriteObserver {
    const sharing = this.sharing;
    const hasher = new PrefixHasher(
      file,
      this.background,
      (bytes, md5, fileSize, fileMtimeMs) =>
        this.record({ user, path, bytes, md5, fileSize, fileMtimeMs }),
      () => this.forget(user, path),
      (job) => this.deferHash(user, path, job),
      sharing && {
        every: sharing.checkpointEvery,
        save: (c) => this.saveCheckpoint(user, path, c),
        drop: () => this.dropCheckpoints(user, path),
      },
    );
    if (!this.leases) return hasher;
    this.leases.hold(user, path, { key: file.key, size: file.sizeFound });
    return leasedObserver(hasher, (size) => this.leases?.letGo(user, path, size));
  }

  /** Checkpoint changes, in the order they come. */
  private checkpointWrites = Promise.resolve();

  private saveCheckpoint(user: string, path: string, c: Md5State): void {
    const sharing = this.sharing;
    if (!sharing) return;
    this.checkpointWrites = this.checkpointWrites
      .then(() => sharing.store.putCheckpoint(user, path, c))
      .catch((err: unknown) =>
        sharing.logger.warn('upload.checkpoint_failed', { path, error: describeError(err) }),
      );
  }

  private dropCheckpoints(user: string, path: string): void {
    const sharing = this.sharing;
    if (!sharing) return;
    this.checkpointWrites = this.checkpointWrites
      .then(() => sharing.store.dropCheckpoints(user, path))
      .catch(() => undefined);
  }

  /** The last MD5 state saved for an upload to `path` (once the changes before are stored). */
  async checkpoint(user: string, path: string): Promise<UploadCheckpoint | undefined> {
    const sharing = this.sharing;
    if (!sharing) return undefined;
    await this.checkpointWrites;
    return sharing.store.getCheckpoint(user, path);
  }

  pathGone(user: string, path: string): void {
    this.cancelPending(user, path);
    this.forget(user, path);
  }

  pathMoved(user: string, from: string, to: string): void {
    for (const p of this.pending) {
      if (p.user !== user) continue;
      // Whatever the rename replaced is gone; what it moved keeps its digest.
      if (isAtOrUnder(p.path, to)) p.cancelled = true;
      else if (isAtOrUnder(p.path, from)) p.path = to + p.path.slice(from.length);
    }
    this.moved(user, from, to);
  }

  async resume(fs: ResumableFs, req: ResumeRequest): Promise<VFile> {
    const leases = this.leases;
    if (!leases) return resumeUpload(this, this.hashing, fs, req);
    // A writer in another process first: its lease is given back at its close, or runs out.
    const deadline = Date.now() + WRITER_WAIT_MS;
    const fileAt = async (): Promise<DiskFile | undefined> => {
      const st = await fs.stat(req.path).catch(() => undefined);
      return st?.isFile() ? { key: fileKey(st), size: st.size } : undefined;
    };
    if (!(await leases.takeForResume(req.user, req.path, deadline, req.signal, fileAt))) {
      throw MiniftpError.busy(
        'resume refused: another session is still writing this file; try again in a moment',
      );
    }
    try {
      return await resumeUpload(this, this.hashing, fs, req);
    } finally {
      leases.letGo(req.user, req.path);
    }
  }

  /** New times on a file whose content is unchanged: its record stays current. */
  timesSet(
    user: string,
    path: string,
    before: { size: number; mtimeMs: number },
    mtimeMs: number,
  ): void {
    for (const p of this.pending) {
      if (p.user === user && p.path === path && p.mtimeMs === before.mtimeMs) p.mtimeMs = mtimeMs;
    }
    this.change(
      user,
      (paths) => paths.has(path),
      () => undefined,
      async () => {
        const rec = await this.store.uploads.get(user, path);
        if (rec && rec.fileSize === before.size && rec.fileMtimeMs === before.mtimeMs) {
          await this.store.uploads.put({ ...rec, fileMtimeMs: mtimeMs });
        }
      },
    );
  }

  /**
   * Lets a CLOSE answer before the digest of its upload is ready: the thread
   * finishes it when it has CPU to spare, then the record is written under the
   * path the file has by then. False when too many are in progress.
   */
  private deferHash(user: string, path: string, job: DeferredHash): boolean {
    if (this.pending.size >= MAX_DEFERRED || this.closing) return false;
    const entry: PendingHash = {
      user,
      path,
      mtimeMs: job.mtimeMs,
      cancelled: false,
      done: Promise.resolve(),
    };
    entry.done = this.background
      .finish(job.stream, false)
      .then((reply) => {
        if (entry.cancelled || reply.md5 === undefined || reply.bytes !== job.size) return;
        // Recorded with the size and mtime the upload left: if anything wrote
        // to the file since, its mtime moved on and current() ignores the record.
        this.record({
          user,
          path: entry.path,
          bytes: job.size,
          md5: reply.md5,
          fileSize: job.size,
          fileMtimeMs: entry.mtimeMs,
        });
      })
      .catch(() => undefined)
      // Off the event loop, as VFile closes large uploads: ext4 may start writeback on close.
      .then(() => new Promise<void>((resolve) => fs.close(job.fd, () => resolve())))
      .finally(() => {
        this.pending.delete(entry);
      });
    this.pending.add(entry);
    return true;
  }

  private cancelPending(user: string, path: string): void {
    for (const p of this.pending) if (p.user === user && p.path === path) p.cancelled = true;
  }

  /**
   * Waits until the digest of an upload to `path` that finished moments ago is
   * recorded, and the user's record changes so far are in the store (resume
   * and check-file read the ledger right after).
   */
  async settled(user: string, path: string): Promise<void> {
    const waits = [...this.pending].filter((p) => p.user === user && p.path === path);
    // Someone is waiting now: the thread runs at normal priority until done.
    if (waits.length > 0) await Promise.all(waits.map((p) => this.background.hurry(p.done)));
    await this.written(user);
  }

  /**
   * The MD5 of the whole of an open file from its record, when the record
   * describes the file as it is (a digest still being finished is waited
   * for): the check a client makes right after an upload then reads nothing.
   * `length` other than 0 must be the file's size.
   */
  async wholeMd5(user: string, file: VFile, length: number): Promise<Buffer | undefined> {
    await this.settled(user, file.virtualPath);
    const st = await file.stat();
    if (length !== 0 && length !== st.size) return undefined;
    const rec = await this.current(user, file.virtualPath, st);
    return rec && rec.bytes === st.size ? Buffer.from(rec.md5, 'hex') : undefined;
  }

  /**
   * The record for a file, if it still describes the file as it is on disk (after the user's
   * record changes so far have reached the store).
   */
  async current(
    user: string,
    path: string,
    file: { size: number; mtimeMs: number },
  ): Promise<UploadRecord | undefined> {
    await this.written(user);
    const paths = this.known.get(user)?.paths;
    if (paths && !paths.has(path) && !this.sharing) return undefined;
    let rec: UploadRecord | undefined;
    try {
      rec = await this.store.uploads.get(user, path);
    } catch (err) {
      // Without the record (the store out of reach), the digest is taken from the file itself.
      this.logger?.warn('upload.record_unavailable', { user, error: describeError(err) });
      return undefined;
    }
    if (!rec) return undefined;
    if (rec.fileSize !== file.size || rec.fileMtimeMs !== file.mtimeMs) return undefined;
    return rec;
  }

  record(rec: Omit<UploadRecord, 'updatedAt'>): void {
    this.change(
      rec.user,
      () => true,
      (paths) => paths.add(rec.path),
      () => this.store.uploads.put(rec),
    );
  }
}
