/**
 * Builds the operational parts (docs/operations.md): the metrics and their listener, the
 * timed store, the hook dispatcher with the digests of uploads, and the Ops facade.
 */
import cluster from 'node:cluster';
import type { Config } from '../config/types';
import { parseListen } from '../config/formats';
import { describeError } from '../errors';
import type { Logger } from '../log/types';
import { HookDispatcher, type EventFields } from '../ops/hook-dispatcher';
import { Metrics } from '../ops/metrics';
import {
  registrySource,
  shareWithPrimary,
  startMetricsServer,
  type MetricsServer,
} from '../ops/metrics-server';
import { Ops } from '../ops/ops';
import { timedStore } from '../ops/store-timing';
import type { Store } from '../store/types';
import { shellWords } from '../util/shell-words';
import type { HashPool } from '../vfs/hash-pool';
import type { Homes } from '../vfs/homes';
import type { VFile } from '../vfs/vfile';

/** The metrics (when a listener is configured) and the store every part then uses. */
export function instrumentStore(
  config: Config,
  store: Store,
  bansActive: () => number,
): { metrics: Metrics | undefined; store: Store } {
  if (config.ops.metricsListen === '') return { metrics: undefined, store };
  const metrics = new Metrics({ maxUserLabels: config.ops.metricsUserLabels, bansActive });
  shareWithPrimary(metrics.registry);
  return { metrics, store: timedStore(store, metrics) };
}

/**
 * The MD5 and SHA-256 of an uploaded file, read after its CLOSE on the hashing pool, when the
 * file is still as the upload left it (same size and mtime); otherwise both are null and
 * `digest_note` says why. The MD5 the upload ledger kept of the whole file, when it has it,
 * spares the file a second read.
 */
function uploadDigests(homes: Homes, hashing: HashPool, uploads: Store['uploads']) {
  return async (event: string, fields: EventFields): Promise<EventFields | undefined> => {
    if (event !== 'upload.completed' || typeof fields.sha256 === 'string') return undefined;
    const user = String(fields.user);
    const path = String(fields.path);
    const missing = (note: string): EventFields => ({
      ...fields,
      md5: null,
      sha256: null,
      digest_note: note,
    });
    let file: VFile;
    try {
      file = await (await homes.fsFor(user)).openForReading(path);
    } catch {
      return missing('the file was moved or removed before it could be read');
    }
    try {
      const st = await file.stat();
      if (st.size !== fields.size || (fields._mtimeMs !== null && st.mtimeMs !== fields._mtimeMs))
        return missing('the file changed before it could be read');
      const range = { user, offset: 0, length: 0, blockSize: 0 };
      const kept = await uploads.get(user, path).catch(() => undefined);
      const whole =
        kept &&
        kept.bytes === st.size &&
        kept.fileSize === st.size &&
        kept.fileMtimeMs === st.mtimeMs
          ? kept.md5
          : undefined;
      const md5 =
        whole ?? (await hashing.digest(file, { ...range, algorithm: 'md5' }))[0]?.toString('hex');
      const [sha256] = await hashing.digest(file, { ...range, algorithm: 'sha256' });
      return {
        ...fields,
        md5: md5 ?? null,
        sha256: sha256?.toString('hex') ?? null,
      };
    } finally {
      await file.close().catch(() => undefined);
    }
  };
}

export function buildOps(o: {
  config: Config;
  store: Store;
  logger: Logger;
  metrics: Metrics | undefined;
  homes: Homes;
  hashing: HashPool;
  /** This node's name, as events and the hook outbox's leases name it (workers apart). */
  node: { name: string; holder: string };
}): Ops {
  const { config, logger } = o;
  const c = config.ops;
  const hooks = new HookDispatcher({
    outbox: o.store.ops.hooks,
    node: o.node.holder,
    targets: {
      command: c.hookCommand === '' ? [] : shellWords(c.hookCommand),
      url: c.hookUrl,
      secret: c.hookSecret,
      timeoutMs: c.hookTimeout * 1000,
    },
    retryDelayMs: c.hookRetryDelay,
    maxAttempts: c.hookMaxAttempts,
    leaseMs: c.hookLease * 1000,
    logger,
    metrics: o.metrics,
    complete: uploadDigests(o.homes, o.hashing, o.store.uploads),
  });
  return new Ops({
    node: o.node.name,
    store: o.store.ops,
    config: c,
    logger,
    hooks,
    metrics: o.metrics,
    defaultMaxSessions: config.limits.maxSessionsPerUser,
  });
}

/** Starts the metrics listener when one is configured. */
export async function listenForMetrics(
  config: Config,
  metrics: Metrics | undefined,
  logger: Logger,
): Promise<MetricsServer | undefined> {
  const at = parseListen(config.ops.metricsListen);
  // A worker's figures reach the node's endpoint through the primary (primary-metrics.ts).
  if (!metrics || !at || cluster.isWorker) return undefined;
  try {
    return await startMetricsServer({ ...at, source: registrySource(metrics.registry), logger });
  } catch (err) {
    logger.error('metrics.failed', { error: describeError(err) });
    throw err;
  }
}
