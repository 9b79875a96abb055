import type { Migration } from './migration';

/**
 * The cluster: one row per node with its heartbeat, and every node's logged-in
 * connections, for one console over all of them (src/store/cluster.ts).
 */
export const cluster: Migration = {
  id: '0003_cluster',
  sqlite: `
  CREATE TABLE cluster_nodes (
    name         TEXT    NOT NULL PRIMARY KEY,
    pid          INTEGER NOT NULL,
    workers      INTEGER NOT NULL CHECK (workers >= 1),
    version      TEXT    NOT NULL,
    started_at   TEXT    NOT NULL,
    heartbeat_at TEXT    NOT NULL
  ) STRICT;

  CREATE TABLE cluster_sessions (
    node       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    pid        INTEGER NOT NULL,
    worker     INTEGER,
    "user"     TEXT    NOT NULL,
    ip         TEXT    NOT NULL,
    port       INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    method     TEXT    NOT NULL,
    client     TEXT    NOT NULL,
    started_at TEXT    NOT NULL,
    bytes      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (node, id)
  ) STRICT;
`,
  postgres: `
  CREATE TABLE cluster_nodes (
    name         TEXT    NOT NULL PRIMARY KEY,
    pid          INTEGER NOT NULL,
    workers      INTEGER NOT NULL CHECK (workers >= 1),
    version      TEXT    NOT NULL,
    started_at   TEXT    NOT NULL,
    heartbeat_at TEXT    NOT NULL
  );

  CREATE TABLE cluster_sessions (
    node       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    pid        INTEGER NOT NULL,
    worker     INTEGER,
    "user"     TEXT    NOT NULL,
    ip         TEXT    NOT NULL,
    port       INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    method     TEXT    NOT NULL,
    client     TEXT    NOT NULL,
    started_at TEXT    NOT NULL,
    bytes      BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (node, id)
  );
`,
};
