/**
 * Which view of sessions and nodes the console gets: a single process alone on
 * its store sees its own connections; a worker of several, or a node on a
 * shared store, joins the cluster (cluster-node.ts) over the store's tables and
 * a bus.
 */
import * as os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { LiveConnections, LiveNodes } from '../admin/console-host';
import type { LoginThrottle } from '../auth/throttle';
import type { Config } from '../config/types';
import type { Logger } from '../log/types';
import type { QuotaLedger } from '../quota/quota-ledger';
import { SqlClusterStore } from '../store/cluster';
import type { ClusterBus } from '../store/cluster-types';
import { PgBus } from '../store/pg/bus';
import type { Store } from '../store/types';
import type { ConnectionRegistry } from '../ssh/connections';
import { IpcBus, NoBus } from './cluster-bus';
import { ClusterNode } from './cluster-node';
import { LocalSessions } from './local-sessions';
import { miniftpVersion } from './version';

/** Which node this process serves for, and which of its workers it is (none: the only process). */
export interface ProcessIdentity {
  readonly node: string;
  readonly worker?: number;
  /** How many workers the node runs (1 without a primary). */
  readonly workers?: number;
}

export interface ClusterParts {
  readonly sessions: LiveConnections;
  readonly nodes: LiveNodes;
  stop(): Promise<void>;
}

/**
 * Whether this process shares its store with other processes: it is one of
 * several workers, or the store is PostgreSQL (which other nodes may share).
 */
export function joinsCluster(
  identity: ProcessIdentity | undefined,
  storeKind: Store['kind'],
): boolean {
  return identity?.worker !== undefined || storeKind === 'postgres';
}

/**
 * The prefix of this process's connection ids: none for a process alone, else
 * a random one, so that ids stay unique over every process and node.
 */
export function idPrefix(identity: ProcessIdentity | undefined, storeKind: Store['kind']): string {
  if (!joinsCluster(identity, storeKind)) return '';
  // Four base-36 characters: enough that two processes of one cluster do not draw the same.
  const n = randomBytes(4).readUInt32BE(0) % 36 ** 4;
  return `${n.toString(36).padStart(4, '0')}-`;
}

/** The one node of a single process: this one. */
function localNodes(node: string, registry: ConnectionRegistry): LiveNodes {
  const startedAt = new Date();
  return {
    list: () =>
      Promise.resolve([
        {
          name: node,
          pid: process.pid,
          workers: 1,
          version: miniftpVersion(),
          startedAt,
          heartbeatAt: new Date(),
          sessions: registry.list().filter((c) => c.user !== undefined).length,
          current: true,
        },
      ]),
  };
}

export async function setupCluster(o: {
  config: Config;
  identity: ProcessIdentity | undefined;
  store: Store;
  registry: ConnectionRegistry;
  throttle: LoginThrottle;
  quota: QuotaLedger;
  logger: Logger;
}): Promise<ClusterParts> {
  const { identity, config } = o;
  if (!identity || !joinsCluster(identity, o.store.kind)) {
    return {
      sessions: new LocalSessions(o.registry),
      nodes: localNodes(identity?.node ?? '', o.registry),
      stop: () => Promise.resolve(),
    };
  }
  const bus = await openBus(config, o.store, identity, o.logger);
  const node = new ClusterNode({
    node: identity.node,
    worker: identity.worker,
    leaderPid: identity.worker !== undefined ? process.ppid : process.pid,
    workers: identity.workers ?? 1,
    version: miniftpVersion(),
    store: new SqlClusterStore(o.store.sql),
    bus,
    registry: o.registry,
    throttle: o.throttle,
    quota: o.quota,
    logger: o.logger,
    adminName: config.admin.user,
    heartbeatMs: config.cluster.heartbeatInterval * 1000,
    timeoutMs: config.cluster.nodeTimeout * 1000,
  });
  await node.start();
  o.logger.info('cluster.joined', {
    node: identity.node,
    ...(identity.worker === undefined ? {} : { worker: identity.worker }),
  });
  return { sessions: node, nodes: node.nodes, stop: () => node.stop() };
}

/**
 * PostgreSQL carries the bus between every process of every node; the workers
 * of one node on SQLite talk through their primary.
 */
async function openBus(
  config: Config,
  store: Store,
  identity: ProcessIdentity,
  logger: Logger,
): Promise<ClusterBus> {
  if (store.kind === 'postgres') {
    return PgBus.open({
      url: config.store.url,
      sql: store.sql,
      onError: (error) => logger.warn('cluster.bus_lost', { error }),
    });
  }
  return identity.worker !== undefined ? new IpcBus() : new NoBus();
}

/**
 * The node name events carry, and the holder of hook-outbox leases. The holder
 * stays the same across restarts (the --node-name setting, else the host name),
 * so that a node started again takes back at once what it held when it died;
 * each worker holds as itself, so a worker that restarts frees only its own.
 */
export function opsNode(
  identity: ProcessIdentity | undefined,
  config: Config,
): { name: string; holder: string } {
  const stable = config.cluster.nodeName !== '' ? config.cluster.nodeName : os.hostname();
  const name = identity?.node ?? `${os.hostname()}-${process.pid}`;
  return { name, holder: identity?.worker === undefined ? stable : `${stable}/${identity.worker}` };
}
