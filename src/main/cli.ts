/**
 * `miniftp-server`: reads the configuration, starts the server (or its worker
 * processes), drains it on SIGTERM and stops it on SIGINT or a second SIGTERM.
 */
import cluster from 'node:cluster';
import * as os from 'node:os';
import * as path from 'node:path';
import { configHelp, loadConfig, wantsHelp } from '../config/load';
import type { Config } from '../config/types';
import { createLogger } from '../log/logger';
import type { Logger } from '../log/types';
import { MiniftpError, describeError } from '../errors';
import { INNER_ENV, findSetpriv, planLaunch, reexec } from './launch';
import { effectiveCapabilities } from './privileges';
import { missingRuntimeSettings } from './runtime';
import {
  type ReadyMessage,
  WORKER_COUNT_ENV,
  WORKER_NODE_ENV,
  WORKER_SLOT_ENV,
  runPrimary,
} from './primary';
import { printLogger } from './print-logger';
import { startPrimaryMetrics } from './primary-metrics';
import type { ProcessIdentity, RunningServer } from './start';
import { workerCount, workerShare } from './worker-share';

/** SIGTERMs closer together than this (ms), under setpriv or from the primary, are one signal delivered twice. */
const DUPLICATE_MS = 300;

export async function main(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(`${configHelp()}\n`);
    return 0;
  }
  let config;
  try {
    config = loadConfig({ argv, env: process.env, cwd: process.cwd() });
  } catch (err) {
    process.stderr.write(`${describeError(err)}\n`);
    return 2;
  }
  const inner = process.env[INNER_ENV] !== undefined;
  const plan = planLaunch({
    caps: effectiveCapabilities(),
    runAs: config.runAs,
    inner,
    setpriv: inner ? undefined : findSetpriv(process.env),
  });
  if (plan.kind === 'refuse') {
    process.stderr.write(`miniftp-server: ${plan.message}\n`);
    return 2;
  }
  if (plan.kind === 'reexec') return reexec(plan.setpriv, argv);
  if (cluster.isWorker) return serveAsWorker(config, inner);
  const workers = workerCount(config.cluster.workers);
  const node = nodeName(config);
  if (workers > 1) {
    const logger = primaryLogger(config);
    const metrics = await startPrimaryMetrics(config, logger).catch((err: unknown) => {
      process.stderr.write(`miniftp-server: ${describeError(err)}\n`);
      return null;
    });
    if (metrics === null) return 2;
    const code = await runPrimary({
      config,
      argv,
      workers,
      node,
      logger,
      announce: (host, port) => process.stdout.write(`listening on ${host}:${port}\n`),
    });
    await metrics?.close();
    return code;
  }
  return serve(config, inner, { node }, (server) => {
    // Tests and scripts wait for this exact line to learn the real port.
    process.stdout.write(`listening on ${server.host}:${server.port}\n`);
  });
}

/** This node's name: the setting, or the host name and the id of the process that leads it. */
function nodeName(config: Config): string {
  return config.cluster.nodeName !== ''
    ? config.cluster.nodeName
    : `${os.hostname()}-${process.pid}`;
}

/**
 * The primary's own lines (workers started, died, replaced) go to the node's log
 * files; under runAs the primary stays root, and a log file it created would
 * shut the workers out of it, so there they are only printed.
 */
function primaryLogger(config: Config): Logger {
  if (config.runAs !== '') return printLogger(config.log.level);
  return createLogger({
    dir: path.join(config.dataDir, 'log'),
    level: config.log.level,
    stdout: config.log.stdout,
  });
}

/** One of several worker processes, forked by the primary (primary.ts). */
async function serveAsWorker(config: Config, inner: boolean): Promise<number> {
  const slot = Number(process.env[WORKER_SLOT_ENV]);
  const count = Number(process.env[WORKER_COUNT_ENV]);
  const node = process.env[WORKER_NODE_ENV] ?? nodeName(config);
  const identity = { node, worker: slot, workers: count };
  const code = await serve(workerShare(config, count), inner, identity, (server) => {
    const ready: ReadyMessage = { miniftp: 'ready', host: server.host, port: server.port };
    process.send?.(ready);
  });
  // The channel to the primary would keep this process alive once the server has stopped.
  cluster.worker?.disconnect();
  return code;
}

/** Starts the server in this process and serves until a drain ends or SIGINT stops it. */
async function serve(
  config: Config,
  inner: boolean,
  identity: ProcessIdentity,
  announce: (server: RunningServer) => void,
): Promise<number> {
  // Loaded only here: the outer process of a re-execution never needs the server's modules.
  const { startServer } = await import('./start.js');
  let server;
  try {
    server = await startServer(config, { identity });
  } catch (err) {
    process.stderr.write(`miniftp-server: ${describeError(err)}\n`);
    return err instanceof MiniftpError ? 2 : 1;
  }
  const running = server;
  // Handlers first: a supervisor may send SIGTERM the moment it reads the line
  // below, and until a handler exists the signal would end the process at once.
  const stopped = running.stopped.then(() => 0);
  // Under setpriv a supervisor that signals the whole group (systemd) reaches this
  // process twice, directly and through the outer one (a worker: through the primary).
  const twice = inner || identity.worker !== undefined;
  let drainingSince: number | undefined;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    if (signal === 'SIGTERM' && drainingSince === undefined) {
      // SIGTERM drains: no new connections, running transfers get drainTimeout.
      drainingSince = Date.now();
      running.logger.info('server.signal', { signal, action: 'drain' });
      running.drain();
      return;
    }
    // Within DUPLICATE_MS of the first, a SIGTERM is the same signal delivered twice.
    if (twice && signal === 'SIGTERM' && Date.now() - (drainingSince ?? 0) < DUPLICATE_MS) return;
    // SIGINT, or a second SIGTERM: stop at once.
    stopping = true;
    running.logger.info('server.signal', { signal, action: 'stop' });
    void running.close();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  announce(server);
  const missing = missingRuntimeSettings(process.env, process.execArgv);
  if (missing.length > 0) {
    server.logger.info('server.runtime', {
      hint:
        `started without ${missing.map((m) => `${m.setting} (${m.without})`).join(' and ')}; ` +
        'npm start gives both (see docs/operations.md, Running the server)',
    });
  }
  return stopped;
}
