/**
 * Settings of the server's process that only take effect when given before it
 * starts: an environment variable read by glibc and a flag read by V8. `npm
 * start` and the shebang of bin/miniftp-server.js apply both (a unit test
 * keeps them equal to what is listed here); a server started another way logs
 * `server.runtime` with what is missing.
 */

export interface RuntimeSetting {
  /** How to give it: `NAME=value` in the environment, or a node flag. */
  readonly setting: string;
  /** What is lost without it, for the log line. */
  readonly without: string;
  /** Only matters on Linux (glibc). */
  readonly linuxOnly: boolean;
  isSet(env: NodeJS.ProcessEnv, execArgv: readonly string[]): boolean;
}

/**
 * glibc raises its mmap threshold to the size of the first large block freed
 * (argon2's 19 MiB), after which such blocks, and every Buffer below that
 * size, come from heaps that keep their pages, and memory stays high after a
 * few password logins. A fixed threshold keeps them returning to the system
 * (figures in docs/performance.md).
 */
export const MALLOC_THRESHOLD = { name: 'MALLOC_MMAP_THRESHOLD_', value: '131072' } as const;

/**
 * Every packet of a transfer arrives in new ArrayBuffers (socket reads, and
 * SSH packets that straddle two reads), which drives V8 to a garbage
 * collection every few tens of MiB. By default V8 spreads that work over four
 * helper threads and the event loop waits for them; on a machine whose cores
 * are busy with the transfers themselves it waits for CPU time. Collecting on
 * the event loop alone makes transfers faster then, one or many (figures in
 * docs/performance.md).
 */
export const GC_FLAG = '--single-threaded-gc';

export const RUNTIME_SETTINGS: readonly RuntimeSetting[] = [
  {
    setting: `${MALLOC_THRESHOLD.name}=${MALLOC_THRESHOLD.value}`,
    without: 'memory stays higher after password logins',
    linuxOnly: true,
    isSet: (env) => env[MALLOC_THRESHOLD.name] !== undefined,
  },
  {
    setting: `node ${GC_FLAG}`,
    without: 'transfers are slower while the CPU is busy',
    linuxOnly: false,
    isSet: (_env, execArgv) => execArgv.includes(GC_FLAG),
  },
];

/** The command `npm start` and the shebang run, from the repository root. */
export const START_COMMAND = `${MALLOC_THRESHOLD.name}=${MALLOC_THRESHOLD.value} node ${GC_FLAG} bin/miniftp-server.js`;

/** The settings this process was started without (only Linux has the glibc one to miss). */
export function missingRuntimeSettings(
  env: NodeJS.ProcessEnv,
  execArgv: readonly string[],
  platform: NodeJS.Platform = process.platform,
): RuntimeSetting[] {
  return RUNTIME_SETTINGS.filter(
    (s) => !s.isSet(env, execArgv) && (platform === 'linux' || !s.linuxOnly),
  );
}
