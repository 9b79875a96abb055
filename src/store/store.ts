/** The Store over any Db: one object per area of the data, all sharing the database. */
import { SqlAccessStore } from './access';
import type { AccessStore } from './access-types';
import { SqlKeyStore } from './keys';
import { sqlOpsStore } from './ops';
import type { OpsStore } from './ops-types';
import type { Db, Sql } from './engine/sql';
import type { KeyStore, Store, UploadStore, UsageStore, UserStore } from './types';
import { SqlUploadStore } from './uploads';
import { SqlUsageStore } from './usage';
import { SqlUserStore } from './users';

export class SqlStore implements Store {
  readonly users: UserStore;
  readonly keys: KeyStore;
  readonly usage: UsageStore;
  readonly uploads: UploadStore;
  readonly access: AccessStore;
  readonly ops: OpsStore;

  constructor(
    private readonly db: Db,
    readonly kind: 'sqlite' | 'postgres',
    readonly location: string,
  ) {
    this.users = new SqlUserStore(db);
    this.keys = new SqlKeyStore(db);
    this.usage = new SqlUsageStore(db);
    this.uploads = new SqlUploadStore(db);
    this.access = new SqlAccessStore(db);
    this.ops = sqlOpsStore(db);
  }

  get sql(): Sql {
    return this.db;
  }

  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
