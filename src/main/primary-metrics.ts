/**
 * With several workers, the node's one metrics listener belongs to the
 * primary, which sums what every worker's registry holds (prom-client's
 * AggregatorRegistry); the workers open none of their own.
 */
import { parseListen } from '../config/formats';
import type { Config } from '../config/types';
import type { Logger } from '../log/types';
import { clusterSource, startMetricsServer, type MetricsServer } from '../ops/metrics-server';

export async function startPrimaryMetrics(
  config: Config,
  logger: Logger,
): Promise<MetricsServer | undefined> {
  const at = parseListen(config.ops.metricsListen);
  if (!at) return undefined;
  return startMetricsServer({ ...at, source: clusterSource(), logger });
}
