import type { Migration } from './migration';

/** Users, their public keys, their usage, and upload records. */
export const initial: Migration = {
  id: '0001_initial',
  // STRICT tables make SQLite refuse a string in a number column instead of silently storing it.
  sqlite: `
    CREATE TABLE users (
      name          TEXT    NOT NULL PRIMARY KEY,
      password_hash TEXT    NOT NULL,
      quota_bytes   INTEGER NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0),
      quota_files   INTEGER NOT NULL DEFAULT 0 CHECK (quota_files >= 0),
      disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
      is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
      created_at    TEXT    NOT NULL,
      last_login_at TEXT
    ) STRICT;

    CREATE TABLE public_keys (
      user        TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
      algo        TEXT NOT NULL,
      data        TEXT NOT NULL,
      comment     TEXT NOT NULL DEFAULT '',
      fingerprint TEXT NOT NULL,
      added_at    TEXT NOT NULL,
      UNIQUE (user, fingerprint)
    ) STRICT;

    CREATE TABLE usage (
      user       TEXT    NOT NULL PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
      bytes      INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0),
      files      INTEGER NOT NULL DEFAULT 0 CHECK (files >= 0),
      scanned_at TEXT
    ) STRICT;

    CREATE TABLE uploads (
      user          TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
      path          TEXT    NOT NULL,
      bytes         INTEGER NOT NULL CHECK (bytes >= 0),
      md5           TEXT    NOT NULL,
      file_size     INTEGER NOT NULL CHECK (file_size >= 0),
      file_mtime_ms REAL    NOT NULL,
      updated_at    TEXT    NOT NULL,
      PRIMARY KEY (user, path)
    ) STRICT, WITHOUT ROWID;
  `,
  // Names and paths sort and compare by code point ("C"), as SQLite's TEXT does. public_keys has
  // a rowid column so that "ORDER BY added_at, rowid" reads the same on both databases.
  postgres: `
    CREATE TABLE users (
      name          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
      password_hash TEXT    NOT NULL,
      quota_bytes   BIGINT  NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0),
      quota_files   BIGINT  NOT NULL DEFAULT 0 CHECK (quota_files >= 0),
      disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
      is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
      created_at    TEXT    NOT NULL,
      last_login_at TEXT
    );

    CREATE TABLE public_keys (
      rowid       BIGSERIAL NOT NULL,
      "user"      TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
      algo        TEXT NOT NULL,
      data        TEXT NOT NULL,
      comment     TEXT NOT NULL DEFAULT '',
      fingerprint TEXT NOT NULL,
      added_at    TEXT NOT NULL,
      UNIQUE ("user", fingerprint)
    );

    CREATE TABLE "usage" (
      "user"     TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
      bytes      BIGINT NOT NULL DEFAULT 0 CHECK (bytes >= 0),
      files      BIGINT NOT NULL DEFAULT 0 CHECK (files >= 0),
      scanned_at TEXT
    );

    CREATE TABLE uploads (
      "user"        TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
      path          TEXT COLLATE "C" NOT NULL,
      bytes         BIGINT NOT NULL CHECK (bytes >= 0),
      md5           TEXT   NOT NULL,
      file_size     BIGINT NOT NULL CHECK (file_size >= 0),
      file_mtime_ms DOUBLE PRECISION NOT NULL,
      updated_at    TEXT   NOT NULL,
      PRIMARY KEY ("user", path)
    );
  `,
};
