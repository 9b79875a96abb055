/**
 * The HTTP listener that serves /metrics. In a single process it serves the process's own
 * registry. Under Node's cluster module the workers' registries are announced to prom-client
 * (`shareWithPrimary`) and the primary serves their sum through AggregatorRegistry
 * (`clusterSource`), so that one endpoint per node shows every worker.
 */
import cluster from 'node:cluster';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { MiniftpError, describeError } from '../errors';
import type { Logger } from '../log/types';

export interface Scrape {
  contentType: string;
  body: string;
}

export type MetricsSource = () => Promise<Scrape>;

/** The metrics of one process. */
export function registrySource(registry: Registry): MetricsSource {
  return async () => ({ contentType: registry.contentType, body: await registry.metrics() });
}

/** In a cluster primary: the metrics of every worker, summed (gauges too, per label set). */
export function clusterSource(): MetricsSource {
  const aggregator = new AggregatorRegistry();
  return async () => ({
    contentType: aggregator.contentType,
    body: await aggregator.clusterMetrics(),
  });
}

/** In a cluster worker: lets the primary's AggregatorRegistry read `registry`. */
export function shareWithPrimary(registry: Registry): void {
  if (!cluster.isWorker) return;
  // Constructing one installs prom-client's answer to the primary's requests in this worker.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
}

export interface MetricsServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export function startMetricsServer(o: {
  host: string;
  port: number;
  source: MetricsSource;
  logger: Logger;
}): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || (url !== '/metrics' && url !== '/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('see /metrics\n');
      return;
    }
    o.source().then(
      (scrape) => res.writeHead(200, { 'content-type': scrape.contentType }).end(scrape.body),
      (err: unknown) => {
        o.logger.warn('metrics.failed', { error: describeError(err) });
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        MiniftpError.invalid(
          `cannot listen for metrics on ${o.host}:${o.port} (metricsListen): ${err.code ?? err.message}`,
        ),
      ),
    );
    server.listen({ host: o.host, port: o.port }, () => {
      const address = server.address() as AddressInfo;
      o.logger.info('metrics.listening', { host: address.address, port: address.port });
      resolve({
        host: address.address,
        port: address.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
