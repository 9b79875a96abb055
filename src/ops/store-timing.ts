/**
 * Store latency for the metrics, measured at one place: the store the composition root hands
 * out is wrapped so that every method of every table observes its time (a Promise's until it
 * settles) under op="table.method".
 */
import type { Sql } from '../store/engine/sql';
import type { Store } from '../store/types';
import type { Metrics } from './metrics';

type Observe = (op: string, seconds: number) => void;

function timed<T extends object>(table: T, name: string, observe: Observe): T {
  return new Proxy(table, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || typeof key !== 'string') return value;
      const op = `${name}.${key}`;
      return (...args: unknown[]): unknown => {
        const start = performance.now();
        const done = (): void => observe(op, (performance.now() - start) / 1000);
        let result: unknown;
        try {
          result = Reflect.apply(value, target, args);
        } catch (err) {
          done();
          throw err;
        }
        if (result instanceof Promise) return result.finally(done);
        done();
        return result;
      };
    },
  });
}

function timedTransaction<T>(
  store: Store,
  fn: (tx: Sql) => Promise<T>,
  observe: Observe,
): Promise<T> {
  const start = performance.now();
  return store
    .transaction(fn)
    .finally(() => observe('transaction', (performance.now() - start) / 1000));
}

/** `store` with every table call timed into `metrics.storeSeconds`. */
export function timedStore(store: Store, metrics: Metrics): Store {
  const observe: Observe = (op, seconds) => metrics.storeSeconds.observe({ op }, seconds);
  return {
    users: timed(store.users, 'users', observe),
    keys: timed(store.keys, 'keys', observe),
    usage: timed(store.usage, 'usage', observe),
    uploads: timed(store.uploads, 'uploads', observe),
    access: timed(store.access, 'access', observe),
    ops: {
      hooks: timed(store.ops.hooks, 'hooks', observe),
      logins: timed(store.ops.logins, 'logins', observe),
      addresses: timed(store.ops.addresses, 'addresses', observe),
      userLimits: timed(store.ops.userLimits, 'user_limits', observe),
    },
    kind: store.kind,
    location: store.location,
    sql: store.sql,
    transaction: (fn) => timedTransaction(store, fn, observe),
    close: () => store.close(),
  };
}
