import type { Database } from 'better-sqlite3';
import { type ClusterSql, SqlClusterStore } from './cluster';
import type { ClusterStore } from './cluster-types';

/** The cluster tables' statements on better-sqlite3 (`$1` is a parameter named "1"). */
function clusterSql(db: Database): ClusterSql {
  const named = (params: readonly (string | number | null)[] = []): Record<string, unknown> =>
    Object.fromEntries(params.map((v, i) => [String(i + 1), v]));
  return {
    all: <Row>(text: string, params?: readonly (string | number | null)[]) =>
      Promise.resolve(db.prepare(text).all(named(params)) as Row[]),
    run: (text: string, params?: readonly (string | number | null)[]) =>
      Promise.resolve(db.prepare(text).run(named(params)).changes),
  };
}

/** The cluster tables of the database `db`. */
export function clusterStoreOn(db: Database): ClusterStore {
  return new SqlClusterStore(clusterSql(db));
}
