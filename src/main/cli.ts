/** `miniftp-server`: reads the configuration, starts the server, stops it on SIGINT/SIGTERM. */
import { configHelp, loadConfig, wantsHelp } from '../config/load';
import { MiniftpError, describeError } from '../errors';
import { INNER_ENV, findSetpriv, planLaunch, reexec } from './launch';
import { effectiveCapabilities } from './privileges';
import { missingRuntimeSettings } from './runtime';

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
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      running.logger.info('server.signal', { signal });
      void running.close().then(() => resolve(0));
    };
    if (inner) {
      // Under setpriv a supervisor that signals the whole group (systemd) reaches this
      // process twice, directly and through the outer one: one stop is enough.
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    } else {
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    }
  });
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
