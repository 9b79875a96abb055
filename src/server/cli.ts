/** `miniftp-server`: reads the configuration, starts the server, stops it on SIGINT/SIGTERM. */
import { configHelp, loadConfig, wantsHelp } from '../config/load';
import { MiniftpError, describeError } from '../errors';
import { startServer } from './start';

/**
 * glibc raises its mmap threshold to the size of the first large block freed (argon2's 19 MiB),
 * after which such blocks, and every Buffer below that size, come from heaps that keep their
 * pages: about 80 MiB more after a few password logins. A fixed threshold keeps them returning
 * to the system. It must be set before the process starts, so `npm start` sets it.
 */
export const MALLOC_SETTING = 'MALLOC_MMAP_THRESHOLD_';

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
  let server;
  try {
    server = await startServer(config);
  } catch (err) {
    process.stderr.write(`miniftp-server: ${describeError(err)}\n`);
    return err instanceof MiniftpError ? 2 : 1;
  }
  // Tests and scripts wait for this exact line to learn the real port.
  process.stdout.write(`listening on ${server.host}:${server.port}\n`);
  if (process.platform === 'linux' && process.env[MALLOC_SETTING] === undefined) {
    server.logger.info('server.memory', {
      hint: `${MALLOC_SETTING} is not set: memory stays higher after password logins (npm start sets it to 131072; see README, Memory)`,
    });
  }
  const running = server;
  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      running.logger.info('server.signal', { signal });
      void running.close().then(() => resolve(0));
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
