/**
 * The parts a server needs when several processes share its data directory
 * (the `sharing.store` setting): the store's tables for grants, leases and
 * checkpoints on their own connection, and this process's name in them.
 */
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Config } from '../config/types';
import type { Logger } from '../log/types';
import type { GrantStore } from '../store/grant-types';
import { openSharing } from '../store/sqlite-grants';
import type { SharingOptions } from '../uploads/writer-leases';

export interface SharingParts {
  grants: GrantStore;
  uploads: SharingOptions;
  /** What the quota ledger needs to name this process and its leases. */
  who: { holder: string; leaseMs: number };
  close(): void;
}

/** Undefined when the data directory is this process's alone. */
export function sharingParts(config: Config, logger: Logger): SharingParts | undefined {
  if (!config.sharing.store) return undefined;
  const opened = openSharing(path.join(config.dataDir, 'miniftp.db'));
  // Unique per running process, also across restarts that reuse a pid.
  const holder = `${os.hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  const leaseMs = config.sharing.leaseTime * 1000;
  logger.info('server.sharing', { holder, lease_ms: leaseMs });
  return {
    grants: opened.grants,
    uploads: {
      store: opened.uploads,
      holder,
      leaseMs,
      checkpointEvery: config.sharing.checkpointEvery,
      logger,
    },
    who: { holder, leaseMs },
    close: () => opened.close(),
  };
}
