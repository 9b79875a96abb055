/** The AccessStore over better-sqlite3 (the tables of migration 2). */
import type { Database } from 'better-sqlite3';
import { MiniftpError } from '../errors';
import type {
  AccessSnapshot,
  AccessStore,
  FolderRecord,
  GrantRecord,
  GroupRecord,
  NewFolder,
  PermRecord,
  StoredMode,
} from './access-types';

interface FolderRow {
  name: string;
  quota_bytes: number;
  quota_files: number;
  charge: string;
  bytes: number;
  files: number;
  created_at: string;
}

interface GrantRow {
  folder: string;
  user_name: string | null;
  group_name: string | null;
  mode: string;
  at_path: string;
}

const isUnique = (err: unknown): boolean =>
  err instanceof Error &&
  /^SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)$/.test(String((err as { code?: unknown }).code));

/** Escapes LIKE's wildcards so a path matches only itself and what is below it. */
export function likeBelow(p: string): string {
  return `${p.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`;
}

export class SqliteAccessStore implements AccessStore {
  constructor(private readonly db: Database) {}

  private bump(): void {
    this.db.prepare('UPDATE access_changes SET counter = counter + 1 WHERE id = 1').run();
  }

  /** Runs `change` and bumps the counter in one transaction. */
  private changing<T>(change: () => T): T {
    return this.db.transaction(() => {
      const out = change();
      this.bump();
      return out;
    })();
  }

  async counter(): Promise<number> {
    const row = this.db.prepare('SELECT counter FROM access_changes WHERE id = 1').get() as
      { counter: number } | undefined;
    return row?.counter ?? 0;
  }

  async snapshot(): Promise<AccessSnapshot> {
    return this.db.transaction(() => {
      const counter = (
        this.db.prepare('SELECT counter FROM access_changes WHERE id = 1').get() as {
          counter: number;
        }
      ).counter;
      const members = this.db
        .prepare('SELECT group_name, user_name FROM group_members ORDER BY user_name')
        .all() as Array<{ group_name: string; user_name: string }>;
      const groups: GroupRecord[] = (
        this.db.prepare('SELECT name, created_at FROM user_groups ORDER BY name').all() as Array<{
          name: string;
          created_at: string;
        }>
      ).map((g) => ({
        name: g.name,
        createdAt: g.created_at,
        members: members.filter((m) => m.group_name === g.name).map((m) => m.user_name),
      }));
      const folders: FolderRecord[] = (
        this.db.prepare('SELECT * FROM folders ORDER BY name').all() as FolderRow[]
      ).map((f) => ({
        name: f.name,
        quotaBytes: f.quota_bytes,
        quotaFiles: f.quota_files,
        charge: f.charge === 'uploader' ? 'uploader' : 'folder',
        bytes: f.bytes,
        files: f.files,
        createdAt: f.created_at,
      }));
      const grants: GrantRecord[] = (
        this.db
          .prepare('SELECT * FROM folder_grants ORDER BY folder, group_name, user_name')
          .all() as GrantRow[]
      ).map((g) => ({
        folder: g.folder,
        ...(g.user_name !== null ? { user: g.user_name } : {}),
        ...(g.group_name !== null ? { group: g.group_name } : {}),
        mode: g.mode as StoredMode,
        at: g.at_path,
      }));
      const perms: PermRecord[] = (
        this.db.prepare('SELECT * FROM path_perms ORDER BY user_name, path').all() as Array<{
          user_name: string;
          path: string;
          mode: string;
        }>
      ).map((p) => ({ user: p.user_name, path: p.path, mode: p.mode as StoredMode }));
      return { counter, groups, folders, grants, perms };
    })();
  }

  async addGroup(name: string): Promise<void> {
    try {
      this.changing(() =>
        this.db
          .prepare('INSERT INTO user_groups (name, created_at) VALUES (?, ?)')
          .run(name, new Date().toISOString()),
      );
    } catch (err) {
      if (isUnique(err)) throw MiniftpError.exists(`group '${name}' exists`);
      throw err;
    }
  }

  async deleteGroup(name: string): Promise<boolean> {
    return this.changing(
      () => this.db.prepare('DELETE FROM user_groups WHERE name = ?').run(name).changes > 0,
    );
  }

  async addMembers(group: string, users: readonly string[]): Promise<string[]> {
    const insert = this.db.prepare(
      'INSERT OR IGNORE INTO group_members (group_name, user_name) VALUES (?, ?)',
    );
    return this.changing(() => users.filter((u) => insert.run(group, u).changes > 0));
  }

  async removeMembers(group: string, users: readonly string[]): Promise<string[]> {
    const del = this.db.prepare('DELETE FROM group_members WHERE group_name = ? AND user_name = ?');
    return this.changing(() => users.filter((u) => del.run(group, u).changes > 0));
  }

  async addFolder(f: NewFolder): Promise<void> {
    try {
      this.changing(() =>
        this.db
          .prepare(
            'INSERT INTO folders (name, quota_bytes, quota_files, charge, created_at) VALUES (?, ?, ?, ?, ?)',
          )
          .run(f.name, f.quotaBytes, f.quotaFiles, f.charge, new Date().toISOString()),
      );
    } catch (err) {
      if (isUnique(err)) throw MiniftpError.exists(`folder '${f.name}' exists`);
      throw err;
    }
  }

  async deleteFolder(name: string): Promise<boolean> {
    return this.changing(
      () => this.db.prepare('DELETE FROM folders WHERE name = ?').run(name).changes > 0,
    );
  }

  async setFolderQuota(name: string, quotaBytes: number, quotaFiles: number): Promise<void> {
    this.changing(() =>
      this.db
        .prepare('UPDATE folders SET quota_bytes = ?, quota_files = ? WHERE name = ?')
        .run(quotaBytes, quotaFiles, name),
    );
  }

  async setFolderUsage(name: string, bytes: number, files: number): Promise<void> {
    this.db
      .prepare('UPDATE folders SET bytes = ?, files = ? WHERE name = ?')
      .run(Math.max(0, bytes), Math.max(0, files), name);
  }

  async grant(g: GrantRecord): Promise<void> {
    this.changing(() => {
      this.revokeNow(g.folder, g);
      this.db
        .prepare(
          'INSERT INTO folder_grants (folder, user_name, group_name, mode, at_path) VALUES (?, ?, ?, ?, ?)',
        )
        .run(g.folder, g.user ?? null, g.group ?? null, g.mode, g.at);
    });
  }

  private revokeNow(folder: string, who: { user?: string; group?: string }): boolean {
    const sql =
      who.user !== undefined
        ? 'DELETE FROM folder_grants WHERE folder = ? AND user_name = ?'
        : 'DELETE FROM folder_grants WHERE folder = ? AND group_name = ?';
    return this.db.prepare(sql).run(folder, who.user ?? who.group ?? '').changes > 0;
  }

  async revoke(folder: string, who: { user?: string; group?: string }): Promise<boolean> {
    return this.changing(() => this.revokeNow(folder, who));
  }

  async setPerm(p: PermRecord): Promise<void> {
    this.changing(() =>
      this.db
        .prepare(
          `INSERT INTO path_perms (user_name, path, mode) VALUES (?, ?, ?)
           ON CONFLICT (user_name, path) DO UPDATE SET mode = excluded.mode`,
        )
        .run(p.user, p.path, p.mode),
    );
  }

  async deletePerm(user: string, path: string): Promise<boolean> {
    return this.changing(
      () =>
        this.db.prepare('DELETE FROM path_perms WHERE user_name = ? AND path = ?').run(user, path)
          .changes > 0,
    );
  }

  async uploaderOf(folder: string, path: string): Promise<string | undefined> {
    const row = this.db
      .prepare('SELECT uploader FROM folder_files WHERE folder = ? AND path = ?')
      .get(folder, path) as { uploader: string } | undefined;
    return row?.uploader;
  }

  async setUploader(folder: string, path: string, user: string): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO folder_files (folder, path, uploader) VALUES (?, ?, ?)
         ON CONFLICT (folder, path) DO UPDATE SET uploader = excluded.uploader`,
      )
      .run(folder, path, user);
  }

  private removeNow(folder: string, path: string): void {
    this.db
      .prepare(
        `DELETE FROM folder_files WHERE folder = ? AND (path = ? OR path LIKE ? ESCAPE '\\')`,
      )
      .run(folder, path, likeBelow(path));
  }

  async removeUploads(folder: string, path: string): Promise<void> {
    this.removeNow(folder, path);
  }

  async moveUploads(folder: string, from: string, to: string): Promise<void> {
    if (from === to) return;
    this.db.transaction(() => {
      this.removeNow(folder, to);
      this.db
        .prepare(
          `UPDATE folder_files SET path = ? || substr(path, ?)
           WHERE folder = ? AND (path = ? OR path LIKE ? ESCAPE '\\')`,
        )
        .run(to, from.length + 1, folder, from, likeBelow(from));
    })();
  }
}

/** The tables of groups, shared folders, grants, per-path permissions and uploaders (SQLite). */
export const ACCESS_TABLES_SQLITE = `
  CREATE TABLE user_groups (
    name       TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL
  ) STRICT;

  CREATE TABLE group_members (
    group_name TEXT NOT NULL REFERENCES user_groups (name) ON DELETE CASCADE,
    user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    PRIMARY KEY (group_name, user_name)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE folders (
    name        TEXT    NOT NULL PRIMARY KEY,
    quota_bytes INTEGER NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0),
    quota_files INTEGER NOT NULL DEFAULT 0 CHECK (quota_files >= 0),
    charge      TEXT    NOT NULL DEFAULT 'folder' CHECK (charge IN ('folder', 'uploader')),
    bytes       INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    files       INTEGER NOT NULL DEFAULT 0 CHECK (files >= 0),
    created_at  TEXT    NOT NULL
  ) STRICT;

  CREATE TABLE folder_grants (
    folder     TEXT NOT NULL REFERENCES folders (name) ON DELETE CASCADE,
    user_name  TEXT REFERENCES users (name) ON DELETE CASCADE,
    group_name TEXT REFERENCES user_groups (name) ON DELETE CASCADE,
    mode       TEXT NOT NULL CHECK (mode IN ('read', 'write', 'upload')),
    at_path    TEXT NOT NULL,
    CHECK ((user_name IS NULL) <> (group_name IS NULL))
  ) STRICT;
  CREATE UNIQUE INDEX folder_grants_user ON folder_grants (folder, user_name)
    WHERE user_name IS NOT NULL;
  CREATE UNIQUE INDEX folder_grants_group ON folder_grants (folder, group_name)
    WHERE group_name IS NOT NULL;

  CREATE TABLE path_perms (
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    path      TEXT NOT NULL,
    mode      TEXT NOT NULL CHECK (mode IN ('read', 'write', 'upload')),
    PRIMARY KEY (user_name, path)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE folder_files (
    folder   TEXT NOT NULL REFERENCES folders (name) ON DELETE CASCADE,
    path     TEXT NOT NULL,
    uploader TEXT NOT NULL,
    PRIMARY KEY (folder, path)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE access_changes (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    counter INTEGER NOT NULL
  ) STRICT;
  INSERT INTO access_changes (id, counter) VALUES (1, 0);
`;
