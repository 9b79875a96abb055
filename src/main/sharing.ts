/**
 * The parts a server needs when several processes share its store (a
 * PostgreSQL store, or the `sharing.store` setting for the data directory's
 * SQLite file): the store's tables for grants, leases and checkpoints, and
 * this process's name in them.
 */
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import type { Config } from '../config/types';
import type { Logger } from '../log/types';
import type { GrantStore } from '../store/grant-types';
import type { Store } from '../store/types';
import { SqlGrantStore } from '../store/grants';
import { SqlUploadShareStore } from '../store/upload-shares';
import type { SharingOptions } from '../uploads/writer-leases';

export interface SharingParts {
  grants: GrantStore;
  uploads: SharingOptions;
  /** What the quota ledger needs to name this process and its leases. */
  who: { holder: string; leaseMs: number };
}

/** Undefined when the store is this process's alone (SQLite without sharing.store). */
export function sharingParts(
  config: Config,
  store: Store,
  logger: Logger,
  worker: boolean,
): SharingParts | undefined {
  // A PostgreSQL store is there to be shared by nodes; a worker shares with the node's others.
  if (!config.sharing.store && config.store.url === '' && !worker) return undefined;
  // Unique per running process, also across restarts that reuse a pid.
  const holder = `${os.hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  const leaseMs = config.sharing.leaseTime * 1000;
  logger.info('server.sharing', { holder, lease_ms: leaseMs });
  return {
    grants: new SqlGrantStore(store),
    uploads: {
      store: new SqlUploadShareStore(store),
      holder,
      leaseMs,
      checkpointEvery: config.sharing.checkpointEvery,
      logger,
    },
    who: { holder, leaseMs },
  };
}
