/**
 * Groups, shared folders, their grants, per-path permissions and who uploaded
 * each file of a folder (the tables of 0002_access). Every change but the
 * usage and the uploaders bumps `access_changes.counter`, which servers
 * sharing the store poll to reload.
 */
import { MiniftpError } from '../errors';
import { count, noSuchUser, translate, type Db, type Sql } from './engine/sql';
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

/** A path and everything below it ($2 the path); LIKE would need its wildcards escaped. */
const AT_OR_UNDER = `folder = $1 AND (path = $2 OR substr(path, 1, length(CAST($2 AS TEXT)) + 1) = $2 || '/')`;

const BUMP = 'UPDATE access_changes SET counter = counter + 1 WHERE id = 1';

export class SqlAccessStore implements AccessStore {
  constructor(private readonly sql: Db) {}

  /** Runs `change` and bumps the counter in one transaction. */
  private changing<T>(change: (tx: Sql) => Promise<T>): Promise<T> {
    return this.sql.transaction(async (tx) => {
      const out = await change(tx);
      await tx.run(BUMP);
      return out;
    });
  }

  async counter(): Promise<number> {
    const row = await this.sql.get<{ counter: number }>(
      'SELECT counter FROM access_changes WHERE id = 1',
    );
    return Number(row?.counter ?? 0);
  }

  async snapshot(): Promise<AccessSnapshot> {
    return this.sql.transaction(async (tx) => {
      const counter = await tx.get<{ counter: number }>(
        'SELECT counter FROM access_changes WHERE id = 1',
      );
      const members = await tx.all<{ group_name: string; user_name: string }>(
        'SELECT group_name, user_name FROM group_members ORDER BY user_name',
      );
      const groupRows = await tx.all<{ name: string; created_at: string }>(
        'SELECT name, created_at FROM user_groups ORDER BY name',
      );
      const groups: GroupRecord[] = groupRows.map((g) => ({
        name: g.name,
        createdAt: g.created_at,
        members: members.filter((m) => m.group_name === g.name).map((m) => m.user_name),
      }));
      const folderRows = await tx.all<FolderRow>('SELECT * FROM folders ORDER BY name');
      const folders: FolderRecord[] = folderRows.map((f) => ({
        name: f.name,
        quotaBytes: Number(f.quota_bytes),
        quotaFiles: Number(f.quota_files),
        charge: f.charge === 'uploader' ? 'uploader' : 'folder',
        bytes: Number(f.bytes),
        files: Number(f.files),
        createdAt: f.created_at,
      }));
      const grantRows = await tx.all<GrantRow>(
        // Groups' grants first, then users' (NULLs sort apart in the two databases).
        `SELECT * FROM folder_grants
         ORDER BY folder, CASE WHEN group_name IS NULL THEN 1 ELSE 0 END, group_name, user_name`,
      );
      const grants: GrantRecord[] = grantRows.map((g) => ({
        folder: g.folder,
        ...(g.user_name !== null ? { user: g.user_name } : {}),
        ...(g.group_name !== null ? { group: g.group_name } : {}),
        mode: g.mode as StoredMode,
        at: g.at_path,
      }));
      const permRows = await tx.all<{ user_name: string; path: string; mode: string }>(
        'SELECT user_name, path, mode FROM path_perms ORDER BY user_name, path',
      );
      const perms: PermRecord[] = permRows.map((p) => ({
        user: p.user_name,
        path: p.path,
        mode: p.mode as StoredMode,
      }));
      return { counter: Number(counter?.counter ?? 0), groups, folders, grants, perms };
    });
  }

  async addGroup(name: string): Promise<void> {
    try {
      await this.changing((tx) =>
        tx.run('INSERT INTO user_groups (name, created_at) VALUES ($1, $2)', [
          name,
          new Date().toISOString(),
        ]),
      );
    } catch (err) {
      throw translate(this.sql, err, {
        exists: () => MiniftpError.exists(`group '${name}' exists`),
      });
    }
  }

  async deleteGroup(name: string): Promise<boolean> {
    return this.changing(
      async (tx) => (await tx.run('DELETE FROM user_groups WHERE name = $1', [name])) > 0,
    );
  }

  async addMembers(group: string, users: readonly string[]): Promise<string[]> {
    try {
      return await this.changing(async (tx) => {
        const added: string[] = [];
        for (const u of users) {
          const n = await tx.run(
            `INSERT INTO group_members (group_name, user_name) VALUES ($1, $2)
             ON CONFLICT (group_name, user_name) DO NOTHING`,
            [group, u],
          );
          if (n > 0) added.push(u);
        }
        return added;
      });
    } catch (err) {
      throw translate(this.sql, err, { foreignKey: () => noSuchUser(users.join(', ')) });
    }
  }

  async removeMembers(group: string, users: readonly string[]): Promise<string[]> {
    return this.changing(async (tx) => {
      const removed: string[] = [];
      for (const u of users) {
        const n = await tx.run(
          'DELETE FROM group_members WHERE group_name = $1 AND user_name = $2',
          [group, u],
        );
        if (n > 0) removed.push(u);
      }
      return removed;
    });
  }

  async addFolder(f: NewFolder): Promise<void> {
    try {
      await this.changing((tx) =>
        tx.run(
          `INSERT INTO folders (name, quota_bytes, quota_files, charge, bytes, files, created_at)
           VALUES ($1, $2, $3, $4, 0, 0, $5)`,
          [f.name, count(f.quotaBytes), count(f.quotaFiles), f.charge, new Date().toISOString()],
        ),
      );
    } catch (err) {
      throw translate(this.sql, err, {
        exists: () => MiniftpError.exists(`folder '${f.name}' exists`),
      });
    }
  }

  async deleteFolder(name: string): Promise<boolean> {
    return this.changing(
      async (tx) => (await tx.run('DELETE FROM folders WHERE name = $1', [name])) > 0,
    );
  }

  async setFolderQuota(name: string, quotaBytes: number, quotaFiles: number): Promise<void> {
    await this.changing((tx) =>
      tx.run('UPDATE folders SET quota_bytes = $1, quota_files = $2 WHERE name = $3', [
        count(quotaBytes),
        count(quotaFiles),
        name,
      ]),
    );
  }

  async setFolderUsage(name: string, bytes: number, files: number): Promise<void> {
    await this.sql.run('UPDATE folders SET bytes = $1, files = $2 WHERE name = $3', [
      count(Math.max(0, bytes)),
      count(Math.max(0, files)),
      name,
    ]);
  }

  async grant(g: GrantRecord): Promise<void> {
    try {
      await this.changing(async (tx) => {
        await revokeOn(tx, g.folder, g);
        await tx.run(
          `INSERT INTO folder_grants (folder, user_name, group_name, mode, at_path)
           VALUES ($1, $2, $3, $4, $5)`,
          [g.folder, g.user ?? null, g.group ?? null, g.mode, g.at],
        );
      });
    } catch (err) {
      throw translate(this.sql, err, {
        foreignKey: () => MiniftpError.notFound('no such folder, user or group'),
      });
    }
  }

  async revoke(folder: string, who: { user?: string; group?: string }): Promise<boolean> {
    return this.changing((tx) => revokeOn(tx, folder, who));
  }

  async setPerm(p: PermRecord): Promise<void> {
    try {
      await this.changing((tx) =>
        tx.run(
          `INSERT INTO path_perms (user_name, path, mode) VALUES ($1, $2, $3)
           ON CONFLICT (user_name, path) DO UPDATE SET mode = excluded.mode`,
          [p.user, p.path, p.mode],
        ),
      );
    } catch (err) {
      throw translate(this.sql, err, { foreignKey: () => noSuchUser(p.user) });
    }
  }

  async deletePerm(user: string, path: string): Promise<boolean> {
    return this.changing(
      async (tx) =>
        (await tx.run('DELETE FROM path_perms WHERE user_name = $1 AND path = $2', [user, path])) >
        0,
    );
  }

  async uploaderOf(folder: string, path: string): Promise<string | undefined> {
    const row = await this.sql.get<{ uploader: string }>(
      'SELECT uploader FROM folder_files WHERE folder = $1 AND path = $2',
      [folder, path],
    );
    return row?.uploader;
  }

  async setUploader(folder: string, path: string, user: string): Promise<void> {
    await this.sql.run(
      `INSERT INTO folder_files (folder, path, uploader) VALUES ($1, $2, $3)
       ON CONFLICT (folder, path) DO UPDATE SET uploader = excluded.uploader`,
      [folder, path, user],
    );
  }

  async removeUploads(folder: string, path: string): Promise<void> {
    await this.sql.run(`DELETE FROM folder_files WHERE ${AT_OR_UNDER}`, [folder, path]);
  }

  async moveUploads(folder: string, from: string, to: string): Promise<void> {
    if (from === to) return;
    await this.sql.transaction(async (tx) => {
      await tx.run(`DELETE FROM folder_files WHERE ${AT_OR_UNDER}`, [folder, to]);
      await tx.run(
        `UPDATE folder_files SET path = $3 || substr(path, length(CAST($2 AS TEXT)) + 1)
         WHERE ${AT_OR_UNDER}`,
        [folder, from, to],
      );
    });
  }
}

async function revokeOn(
  tx: Sql,
  folder: string,
  who: { user?: string; group?: string },
): Promise<boolean> {
  const sql =
    who.user !== undefined
      ? 'DELETE FROM folder_grants WHERE folder = $1 AND user_name = $2'
      : 'DELETE FROM folder_grants WHERE folder = $1 AND group_name = $2';
  return (await tx.run(sql, [folder, who.user ?? who.group ?? ''])) > 0;
}
