import type { Migration } from './migration';

/**
 * Processes sharing one store: escrow grants of quota (grant-types.ts), writer leases and MD5
 * checkpoints of uploads (upload-share-types.ts). Times are milliseconds since the epoch by the
 * database's clock; a checkpoint's state is hash-wasm's saved MD5 state in base64.
 */
export const escrow: Migration = {
  id: '0002_escrow',
  sqlite: `
    CREATE TABLE quota_grants (
      user       TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
      holder     TEXT    NOT NULL,
      bytes      INTEGER NOT NULL CHECK (bytes >= 0),
      files      INTEGER NOT NULL CHECK (files >= 0),
      expires_at INTEGER NOT NULL,
      PRIMARY KEY (user, holder)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE upload_leases (
      user       TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
      path       TEXT    NOT NULL,
      holder     TEXT    NOT NULL,
      expires_at INTEGER NOT NULL,
      PRIMARY KEY (user, path)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX upload_leases_holder ON upload_leases (holder);

    CREATE TABLE upload_checkpoints (
      user       TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
      path       TEXT    NOT NULL,
      bytes      INTEGER NOT NULL CHECK (bytes >= 0),
      state      TEXT    NOT NULL,
      updated_at TEXT    NOT NULL,
      PRIMARY KEY (user, path)
    ) STRICT, WITHOUT ROWID;
  `,
  postgres: `
    CREATE TABLE quota_grants (
      "user"     TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
      holder     TEXT   NOT NULL,
      bytes      BIGINT NOT NULL CHECK (bytes >= 0),
      files      BIGINT NOT NULL CHECK (files >= 0),
      expires_at BIGINT NOT NULL,
      PRIMARY KEY ("user", holder)
    );

    CREATE TABLE upload_leases (
      "user"     TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
      path       TEXT COLLATE "C" NOT NULL,
      holder     TEXT   NOT NULL,
      expires_at BIGINT NOT NULL,
      PRIMARY KEY ("user", path)
    );
    CREATE INDEX upload_leases_holder ON upload_leases (holder);

    CREATE TABLE upload_checkpoints (
      "user"     TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
      path       TEXT COLLATE "C" NOT NULL,
      bytes      BIGINT NOT NULL CHECK (bytes >= 0),
      state      TEXT   NOT NULL,
      updated_at TEXT   NOT NULL,
      PRIMARY KEY ("user", path)
    );
  `,
};
