/**
 * `miniftp-server`: reads the configuration, starts the server, drains it on
 * SIGTERM and stops it on SIGINT or a second SIGTERM.
 */
import { configHelp, loadConfig, wantsHelp } from '../config/load';
import { MiniftpError, describeError } from '../errors';
import { INNER_ENV, findSetpriv, planLaunch, reexec } from './launch';
import { effectiveCapabilities } from './privileges';
import { missingRuntimeSettings } from './runtime';

/** SIGTERMs closer together than this (ms), under setpriv, are one signal delivered twice. */
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
  // Loaded only here: the outer process of a re-execution never needs the server's modules.
  const { startServer } = await import('./start.js');
  let server;
  try {
    server = await startServer(config);
  } catch (err) {
    process.stderr.write(`miniftp-server: ${describeError(err)}\n`);
    return err instanceof MiniftpError ? 2 : 1;
  }
  const running = server;
  // Handlers first: a supervisor may send SIGTERM the moment it reads the line
  // below, and until a handler exists the signal would end the process at once.
  const stopped = running.stopped.then(() => 0);
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
    // Under setpriv a supervisor that signals the whole group (systemd) reaches this
    // process twice, directly and through the outer one, a few milliseconds apart:
    // within DUPLICATE_MS that is one signal, not a second one.
    if (inner && signal === 'SIGTERM' && Date.now() - (drainingSince ?? 0) < DUPLICATE_MS) return;
    // SIGINT, or a second SIGTERM: stop at once.
    stopping = true;
    running.logger.info('server.signal', { signal, action: 'stop' });
    void running.close();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Tests and scripts wait for this exact line to learn the real port.
  process.stdout.write(`listening on ${server.host}:${server.port}\n`);
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
