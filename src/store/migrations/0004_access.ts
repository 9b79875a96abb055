import type { Migration } from './migration';

/**
 * Groups, shared folders, their grants to users and groups, per-path
 * permissions, who uploaded each file of a folder, and the change counter
 * servers poll to reload them.
 */
export const access: Migration = {
  id: '0004_access',
  sqlite: `
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
  `,
  postgres: `
    CREATE TABLE user_groups (
      name       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
      created_at TEXT NOT NULL
    );

    CREATE TABLE group_members (
      group_name TEXT COLLATE "C" NOT NULL REFERENCES user_groups (name) ON DELETE CASCADE,
      user_name  TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
      PRIMARY KEY (group_name, user_name)
    );

    CREATE TABLE folders (
      name        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
      quota_bytes BIGINT NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0),
      quota_files BIGINT NOT NULL DEFAULT 0 CHECK (quota_files >= 0),
      charge      TEXT   NOT NULL DEFAULT 'folder' CHECK (charge IN ('folder', 'uploader')),
      bytes       BIGINT NOT NULL DEFAULT 0 CHECK (bytes >= 0),
      files       BIGINT NOT NULL DEFAULT 0 CHECK (files >= 0),
      created_at  TEXT   NOT NULL
    );

    CREATE TABLE folder_grants (
      folder     TEXT COLLATE "C" NOT NULL REFERENCES folders (name) ON DELETE CASCADE,
      user_name  TEXT COLLATE "C" REFERENCES users (name) ON DELETE CASCADE,
      group_name TEXT COLLATE "C" REFERENCES user_groups (name) ON DELETE CASCADE,
      mode       TEXT NOT NULL CHECK (mode IN ('read', 'write', 'upload')),
      at_path    TEXT COLLATE "C" NOT NULL,
      CHECK ((user_name IS NULL) <> (group_name IS NULL))
    );
    CREATE UNIQUE INDEX folder_grants_user ON folder_grants (folder, user_name)
      WHERE user_name IS NOT NULL;
    CREATE UNIQUE INDEX folder_grants_group ON folder_grants (folder, group_name)
      WHERE group_name IS NOT NULL;

    CREATE TABLE path_perms (
      user_name TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
      path      TEXT COLLATE "C" NOT NULL,
      mode      TEXT NOT NULL CHECK (mode IN ('read', 'write', 'upload')),
      PRIMARY KEY (user_name, path)
    );

    CREATE TABLE folder_files (
      folder   TEXT COLLATE "C" NOT NULL REFERENCES folders (name) ON DELETE CASCADE,
      path     TEXT COLLATE "C" NOT NULL,
      uploader TEXT COLLATE "C" NOT NULL,
      PRIMARY KEY (folder, path)
    );

    CREATE TABLE access_changes (
      id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
      counter BIGINT  NOT NULL
    );
    INSERT INTO access_changes (id, counter) VALUES (1, 0);
  `,
};
