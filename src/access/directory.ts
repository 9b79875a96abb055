/**
 * Groups, shared folders, their grants and per-path permissions, held in
 * memory from the store and turned into each user's view (vfs/permissions.ts).
 * A change made through this process's console applies at once (the console
 * awaits `changed`); a change made by another server sharing the store is
 * seen by polling the store's change counter (`pollMs`, once a second).
 */
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { describeError } from '../errors';
import type { Logger } from '../log/types';
import {
  folderOfSubject,
  folderSubject,
  type QuotaLedger,
  type QuotaLimits,
  type QuotaSubjects,
  type Usage,
  type UserQuota,
} from '../quota/quota-ledger';
import type { AccessSnapshot, AccessStore, FolderRecord, GrantRecord } from '../store/access-types';
import type {
  AccessMode,
  AccessSource,
  AccessView,
  FolderFiles,
  FolderMount,
} from '../vfs/permissions';
import { openUp } from '../vfs/homes';

export interface AccessDirectoryOptions {
  readonly store: AccessStore;
  readonly quota: QuotaLedger;
  /** Where the folders live: `<homesDir>/.folders`, reachable from no home. */
  readonly foldersDir: string;
  readonly logger: Logger;
  /** How often the change counter is read for changes made elsewhere, in ms; 0: never. */
  readonly pollMs?: number;
}

const EMPTY: AccessSnapshot = { counter: -1, groups: [], folders: [], grants: [], perms: [] };

/** Of two grants of one folder to the same user (through groups), the one giving more. */
const STRENGTH: Record<AccessMode, number> = { read: 0, upload: 1, write: 2 };

export class AccessDirectory implements AccessSource, QuotaSubjects {
  private snap: AccessSnapshot = EMPTY;
  /** Each folder's own quota, fetched when the folders are loaded (views are built synchronously). */
  private quotas = new Map<string, UserQuota>();
  private readonly views = new Map<string, AccessView>();
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;
  readonly files: FolderFiles;

  constructor(private readonly o: AccessDirectoryOptions) {
    const store = o.store;
    this.files = {
      uploaderOf: (folder, p) => store.uploaderOf(folder, p),
      created: (folder, p, user) => store.setUploader(folder, p, user),
      removed: (folder, p) => store.removeUploads(folder, p),
      moved: (folder, from, to) => store.moveUploads(folder, from, to),
    };
  }

  get snapshot(): AccessSnapshot {
    return this.snap;
  }

  /** Reads everything from the store again; the views are made anew. */
  load(): Promise<void> {
    const run = (this.loading ?? Promise.resolve()).then(async () => {
      const snap = await this.o.store.snapshot();
      // Limits and usage of each folder come from the snapshot (see account): set it first.
      this.snap = snap;
      const quotas = new Map<string, UserQuota>();
      for (const f of snap.folders) {
        // A folder made through another server sharing the store has its directory here too.
        await this.ensureFolderDir(f.name);
        if (f.charge !== 'folder') continue;
        const subject = folderSubject(f.name);
        await this.o.quota.refreshLimits(subject);
        quotas.set(f.name, await this.o.quota.get(subject));
      }
      this.quotas = quotas;
      this.views.clear();
    });
    this.loading = run.catch(() => undefined);
    return run;
  }

  /** Something changed in the store through this process: applies to open sessions now. */
  changed(): Promise<void> {
    return this.load();
  }

  start(): void {
    const every = this.o.pollMs ?? 1000;
    if (every <= 0) return;
    this.timer = setInterval(() => void this.poll(), every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async poll(): Promise<void> {
    try {
      if ((await this.o.store.counter()) !== this.snap.counter) await this.load();
    } catch (err) {
      this.o.logger.warn('access.reload_failed', { error: describeError(err) });
    }
  }

  folder(name: string): FolderRecord | undefined {
    return this.snap.folders.find((f) => f.name === name);
  }

  /** The real directory of a folder. */
  folderDir(name: string): string {
    return path.join(this.o.foldersDir, name);
  }

  async ensureFolderDir(name: string): Promise<void> {
    await fsp.mkdir(this.folderDir(name), { recursive: true, mode: 0o700 });
  }

  /** Deletes a folder's directory and everything in it (`folder del --purge`). */
  async purgeFolderDir(name: string): Promise<void> {
    const dir = this.folderDir(name);
    await openUp(dir).catch(() => undefined);
    await fsp.rm(dir, { recursive: true, force: true });
  }

  /** The groups `user` is a member of. */
  groupsOf(user: string): string[] {
    return this.snap.groups.filter((g) => g.members.includes(user)).map((g) => g.name);
  }

  /** The grant of each folder that counts for `user`: their own, else the strongest through a group. */
  grantsOf(user: string): GrantRecord[] {
    const groups = new Set(this.groupsOf(user));
    const chosen = new Map<string, GrantRecord>();
    for (const g of this.snap.grants) {
      if (g.user === user) {
        chosen.set(g.folder, g);
        continue;
      }
      if (g.group === undefined || !groups.has(g.group)) continue;
      const had = chosen.get(g.folder);
      if (had?.user !== undefined) continue;
      if (!had || STRENGTH[g.mode] > STRENGTH[had.mode]) chosen.set(g.folder, g);
    }
    return [...chosen.values()];
  }

  view(user: string): AccessView {
    let v = this.views.get(user);
    if (v) return v;
    const mounts: FolderMount[] = [];
    for (const g of this.grantsOf(user)) {
      const f = this.folder(g.folder);
      if (!f) continue;
      mounts.push({
        at: g.at,
        folder: f.name,
        root: this.folderDir(f.name),
        mode: g.mode,
        usage: f.charge === 'uploader' ? undefined : this.quotas.get(f.name),
      });
    }
    const rules = this.snap.perms
      .filter((p) => p.user === user)
      .map((p) => ({ path: p.path, mode: p.mode }));
    v = { mounts, rules };
    this.views.set(user, v);
    return v;
  }

  // QuotaSubjects: each folder charged to itself is a quota of its own.

  account(subject: string): { limits: QuotaLimits; usage: Usage } | undefined {
    const name = folderOfSubject(subject);
    const f = name === undefined ? undefined : this.folder(name);
    if (!f) return undefined;
    return {
      limits: { bytes: f.quotaBytes, files: f.quotaFiles },
      usage: { bytes: f.bytes, files: f.files },
    };
  }

  async saveUsage(subject: string, usage: Usage): Promise<void> {
    const name = folderOfSubject(subject);
    if (name !== undefined) await this.o.store.setFolderUsage(name, usage.bytes, usage.files);
  }

  list(): string[] {
    return this.snap.folders.map((f) => folderSubject(f.name));
  }
}

/**
 * Where the shared folders live: `.folders` in the homes root, so that every
 * node sharing the homes shares them too, and no home reaches them (a user
 * name cannot start with a dot, and no path leads above a home).
 */
export function prepareFoldersDir(homesDir: string): string {
  const dir = path.join(homesDir, '.folders');
  return fs.existsSync(dir)
    ? fs.realpathSync(dir)
    : path.join(fs.realpathSync(homesDir), '.folders');
}
