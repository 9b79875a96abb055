/**
 * The two ways processes share a store in the scale tests: one SQLite file
 * (`--shared-store`) and one PostgreSQL database (the run's private cluster).
 * Each gives the server flags and the test's own connection to the store.
 */
import * as path from 'node:path';
import { openPostgresStore, openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import { postgresDatabase } from './postgres';

export interface Sharing {
  /** How the processes share it, for the describe titles. */
  readonly name: string;
  setup(dataDir: string): Promise<{ flags: string[]; open: () => Promise<Store> }>;
}

export const SQLITE_SHARING: Sharing = {
  name: 'one SQLite file',
  setup: (dataDir) =>
    Promise.resolve({
      flags: ['--shared-store', 'true'],
      open: () => openStore({ file: path.join(dataDir, 'miniftp.db'), shared: true }),
    }),
};

export const POSTGRES_SHARING: Sharing = {
  name: 'one PostgreSQL',
  setup: async () => {
    const url = await postgresDatabase();
    return {
      flags: ['--store-url', url],
      open: () => openPostgresStore({ url, poolSize: 2, timeoutMs: 10_000 }),
    };
  },
};

export const SHARINGS: readonly Sharing[] = [SQLITE_SHARING, POSTGRES_SHARING];
