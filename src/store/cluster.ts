/**
 * The cluster's tables: `cluster_nodes` (one row per node, with its heartbeat)
 * and `cluster_sessions` (every node's logged-in connections). Written in the
 * SQL that SQLite and PostgreSQL share, parameters numbered `$1`, `$2`…
 * Times are ISO-8601 text in UTC, which sorts as it reads.
 */
import type { ClusterStore, NodeRecord, SessionRecord } from './cluster-types';
import type { Sql } from './engine/sql';

interface NodeRow {
  name: string;
  pid: number | string;
  workers: number | string;
  version: string;
  started_at: string;
  heartbeat_at: string;
  sessions: number | string;
}

interface SessionRow {
  node: string;
  id: string;
  pid: number | string;
  worker: number | string | null;
  user: string;
  ip: string;
  port: number | string;
  kind: string;
  method: string;
  client: string;
  started_at: string;
  bytes: number | string;
}

function toSession(r: SessionRow): SessionRecord {
  return {
    node: r.node,
    id: r.id,
    pid: Number(r.pid),
    worker: r.worker === null ? null : Number(r.worker),
    user: r.user,
    ip: r.ip,
    port: Number(r.port),
    kind: r.kind,
    method: r.method,
    client: r.client,
    startedAt: r.started_at,
    bytes: Number(r.bytes),
  };
}

export class SqlClusterStore implements ClusterStore {
  constructor(private readonly sql: Sql) {}

  async beat(node: Omit<NodeRecord, 'heartbeatAt'>, at: Date): Promise<void> {
    // Every process of a node beats for it; the start stays the one of the process it names.
    await this.sql.run(
      `INSERT INTO cluster_nodes (name, pid, workers, version, started_at, heartbeat_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (name) DO UPDATE SET
         started_at = CASE WHEN cluster_nodes.pid = excluded.pid
                           THEN cluster_nodes.started_at ELSE excluded.started_at END,
         pid = excluded.pid,
         workers = excluded.workers,
         version = excluded.version,
         heartbeat_at = excluded.heartbeat_at`,
      [node.name, node.pid, node.workers, node.version, node.startedAt, at.toISOString()],
    );
  }

  async nodes(): Promise<Array<NodeRecord & { readonly sessions: number }>> {
    const rows = await this.sql.all<NodeRow>(
      `SELECT n.name, n.pid, n.workers, n.version, n.started_at, n.heartbeat_at,
              (SELECT COUNT(*) FROM cluster_sessions s WHERE s.node = n.name) AS sessions
       FROM cluster_nodes n ORDER BY n.name`,
    );
    return rows.map((r) => ({
      name: r.name,
      pid: Number(r.pid),
      workers: Number(r.workers),
      version: r.version,
      startedAt: r.started_at,
      heartbeatAt: r.heartbeat_at,
      sessions: Number(r.sessions),
    }));
  }

  async sweep(before: Date): Promise<string[]> {
    const cutoff = before.toISOString();
    const dead = await this.sql.all<{ name: string }>(
      'SELECT name FROM cluster_nodes WHERE heartbeat_at < $1',
      [cutoff],
    );
    for (const { name } of dead) {
      // Only if it has not beaten since it was read (a node back from a long pause keeps its row,
      // and lists its sessions again). Its sessions go first: whoever sees the node gone sees
      // its sessions gone too.
      await this.sql.run(
        `DELETE FROM cluster_sessions WHERE node = $1 AND EXISTS
           (SELECT 1 FROM cluster_nodes WHERE name = $1 AND heartbeat_at < $2)`,
        [name, cutoff],
      );
      await this.sql.run('DELETE FROM cluster_nodes WHERE name = $1 AND heartbeat_at < $2', [
        name,
        cutoff,
      ]);
    }
    return dead.map((d) => d.name);
  }

  async removeNode(name: string): Promise<void> {
    await this.sql.run('DELETE FROM cluster_sessions WHERE node = $1', [name]);
    await this.sql.run('DELETE FROM cluster_nodes WHERE name = $1', [name]);
  }

  async addSession(s: SessionRecord): Promise<void> {
    await this.sql.run(
      `INSERT INTO cluster_sessions
         (node, id, pid, worker, "user", ip, port, kind, method, client, started_at, bytes)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (node, id) DO UPDATE SET
         pid = excluded.pid, worker = excluded.worker, "user" = excluded."user",
         ip = excluded.ip, port = excluded.port, kind = excluded.kind,
         method = excluded.method, client = excluded.client,
         started_at = excluded.started_at, bytes = excluded.bytes`,
      [
        s.node,
        s.id,
        s.pid,
        s.worker,
        s.user,
        s.ip,
        s.port,
        s.kind,
        s.method,
        s.client,
        s.startedAt,
        s.bytes,
      ],
    );
  }

  async removeSession(node: string, id: string): Promise<void> {
    await this.sql.run('DELETE FROM cluster_sessions WHERE node = $1 AND id = $2', [node, id]);
  }

  async removeProcess(node: string, pid: number): Promise<void> {
    await this.sql.run('DELETE FROM cluster_sessions WHERE node = $1 AND pid = $2', [node, pid]);
  }

  async processes(node: string): Promise<number[]> {
    const rows = await this.sql.all<{ pid: number | string }>(
      'SELECT DISTINCT pid FROM cluster_sessions WHERE node = $1',
      [node],
    );
    return rows.map((r) => Number(r.pid));
  }

  async sessions(): Promise<SessionRecord[]> {
    const rows = await this.sql.all<SessionRow>(
      'SELECT * FROM cluster_sessions ORDER BY node, started_at, id',
    );
    return rows.map(toSession);
  }

  async setBytes(node: string, id: string, bytes: number): Promise<void> {
    await this.sql.run('UPDATE cluster_sessions SET bytes = $1 WHERE node = $2 AND id = $3', [
      bytes,
      node,
      id,
    ]);
  }
}
