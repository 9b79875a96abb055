/**
 * Starts a real MiniFTP server on 127.0.0.1, port 0, with a fresh temporary
 * data directory. Host keys are generated once per test run and shared.
 */
import { mkdtempSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../src/config/load';
import { startServer, type RunningServer } from '../../src/main/start';

let sharedKeysDir: string | undefined;

export function keysDir(): string {
  sharedKeysDir ??= mkdtempSync(path.join(os.tmpdir(), 'miniftp-test-keys-'));
  return sharedKeysDir;
}

export interface TestServer extends RunningServer {
  readonly dataDir: string;
  /** Real path of a user's home on disk. */
  home(user: string): string;
  /** Stops the server and removes its data directory. */
  stop(): Promise<void>;
}

export async function makeDataDir(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-data-'));
}

/**
 * The command line every test server starts with: a free port on 127.0.0.1,
 * `dataDir`, the shared host keys, no stdout logging, fast argon2; `flags` last.
 */
export function testServerArgs(dataDir: string, flags: string[] = []): string[] {
  return [
    '--port',
    '0',
    '--data-dir',
    dataDir,
    '--keys-dir',
    keysDir(),
    '--log-stdout',
    'false',
    '--argon2-time-cost',
    '1',
    ...flags,
  ];
}

/**
 * `flags` are server command-line flags (e.g. ['--default-quota', '10M']).
 * Pass `dataDir` to restart a server on an existing directory.
 */
export async function startTestServer(
  options: { flags?: string[]; dataDir?: string } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? (await makeDataDir());
  const config = loadConfig({
    argv: testServerArgs(dataDir, options.flags ?? []),
    env: {},
    cwd: dataDir,
    defaultsFile: null,
  });
  const server = await startServer(config);
  await server.scanned;
  return Object.assign(server, {
    dataDir,
    home: (user: string) => path.join(dataDir, 'docs', user),
    stop: async () => {
      await server.close();
      await fsp.rm(dataDir, { recursive: true, force: true });
    },
  });
}
