/**
 * How many worker processes a node runs, and each worker's share of what the
 * settings give the whole machine. Limits that protect the machine (connections
 * at once, connections not logged in yet, listing memory, checksum threads) are
 * divided among the workers, rounded up; per-connection, per-session, per-user
 * and per-address limits apply in each worker as they are (docs/operations.md,
 * "Several processes and nodes").
 */
import * as os from 'node:os';
import type { Config } from '../config/types';
import { autoThreads } from '../vfs/hash-pool';

export function cpuCores(): number {
  return typeof os.availableParallelism === 'function'
    ? os.availableParallelism()
    : os.cpus().length;
}

/** The number of worker processes `setting` asks for on a machine with `cores` cores. */
export function workerCount(setting: Config['cluster']['workers'], cores = cpuCores()): number {
  return setting === 'auto' ? Math.max(1, cores) : Math.max(1, Math.floor(setting));
}

function share(total: number, workers: number, min = 1): number {
  // 0 means "no limit" for the memory setting: nothing to divide.
  if (total === 0) return 0;
  return Math.max(min, Math.ceil(total / workers));
}

/** The settings one of `workers` worker processes runs with. */
export function workerShare(config: Config, workers: number, threads = autoThreads()): Config {
  if (workers <= 1) return config;
  const { limits, hashing } = config;
  const maxUnauthenticated = share(limits.maxUnauthenticated, workers);
  return Object.freeze({
    ...config,
    hashing: Object.freeze({
      ...hashing,
      threads: share(hashing.threads > 0 ? hashing.threads : threads, workers),
    }),
    limits: Object.freeze({
      ...limits,
      maxConnections: share(limits.maxConnections, workers),
      maxUnauthenticated,
      // The random early drop starts at the same fraction of the (smaller) ceiling.
      unauthenticatedDropStart: Math.min(
        maxUnauthenticated,
        share(limits.unauthenticatedDropStart, workers),
      ),
      maxListingMemory: share(limits.maxListingMemory, workers, 0),
    }),
  });
}
