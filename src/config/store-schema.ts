/** The `store` section of the settings: where users, keys, usage and upload records are kept. */
import type { SchemaOf } from './formats';
import type { Config } from './types';

export function storeSchema(): SchemaOf<Config['store']> {
  return {
    url: {
      doc: 'PostgreSQL database shared by every process and node, as postgres://USER:PASSWORD@HOST:PORT/DATABASE (the password may also come from PGPASSWORD or ~/.pgpass); empty: SQLite in the data directory (miniftp.db). Logs show the URL without its password.',
      format: 'store-url',
      default: '',
      allowEmpty: true,
      env: 'MINIFTP_STORE_URL',
      arg: 'store-url',
      sensitive: true,
    },
    poolSize: {
      doc: 'Connections to PostgreSQL this process keeps open at most; requests beyond them wait for one.',
      format: 'count',
      default: 10,
      min: 1,
      max: 1000,
      env: 'MINIFTP_STORE_POOL_SIZE',
      arg: 'store-pool-size',
    },
    timeout: {
      doc: 'Seconds a PostgreSQL statement, or getting a connection, may take before the request that needs it fails.',
      format: 'count',
      default: 10,
      min: 1,
      max: 3600,
      env: 'MINIFTP_STORE_TIMEOUT',
      arg: 'store-timeout',
    },
  };
}
