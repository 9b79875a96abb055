/** The store the configuration names: PostgreSQL for --store-url, else SQLite in the data dir. */
import * as path from 'node:path';
import type { Config } from '../config/types';
import { openPostgresStore, openStore } from '../store/open';
import type { Store } from '../store/types';

export function openConfiguredStore(
  config: Config,
  /** A pooled PostgreSQL connection broke while idle (the database restarted or went away). */
  onIdleError: (err: Error) => void,
): Promise<Store> {
  if (config.store.url !== '') {
    return openPostgresStore({
      url: config.store.url,
      poolSize: config.store.poolSize,
      timeoutMs: config.store.timeout * 1000,
      onIdleError,
    });
  }
  return openStore({
    file: path.join(config.dataDir, 'miniftp.db'),
    place: {
      description: `the data directory '${config.dataDir}' (--data-dir)`,
      setting: '--data-dir',
    },
  });
}
