import fs from 'node:fs';
import path from 'node:path';
import convict from 'convict';
import { MiniftpError, isErrno } from '../errors';
import {
  LOG_LEVELS,
  addConfigFormats,
  checkValue,
  describeRefusal,
  isSetting,
  showValue,
  type Setting,
} from './formats';
import { readOps } from './ops-schema';
import { configSchema, listSettings, type ConfigSchema } from './schema';
import type { Config } from './types';

export { configHelp, wantsHelp } from './help';

/** A setting that cannot be used. `message` is one line naming the key and the value. */
export class ConfigError extends MiniftpError {
  /** Dotted config key, "--flag" for command-line trouble, or "config" for a config file. */
  readonly key: string;
  readonly value: unknown;

  constructor(options: { key: string; value?: unknown; detail: string; cause?: unknown }) {
    const detail = options.detail.replace(/\s*\n\s*/g, ' ');
    super('invalid', `invalid config: ${detail}`, { cause: options.cause });
    this.name = 'ConfigError';
    this.key = options.key;
    this.value = options.value;
  }
}

export interface LoadConfigOptions {
  /** Command-line arguments after the script name (process.argv.slice(2)). */
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Relative paths (dataDir, keysDir, --config FILE) start here. */
  cwd: string;
  /** The defaults file to read; null for none. Tests use this to stay independent of the repo's. */
  defaultsFile?: string | null;
}

// Compiled to dist/src/config/load.js; the project root is three levels up.
const DEFAULTS_FILE = path.resolve(__dirname, '..', '..', '..', 'config', 'default.json');

/**
 * Builds the configuration. Lowest priority first: schema defaults, config/default.json, each
 * `--config FILE` in order, MINIFTP_* environment variables, command-line flags.
 * Throws a ConfigError on the first bad value, unknown key or unknown flag.
 */
export function loadConfig(options: LoadConfigOptions): Config {
  const schema = configSchema();
  const settings = listSettings(schema);
  const args = parseArgs(options.argv, settings);

  addConfigFormats();
  // Sources are fed to convict ourselves, in order, through load(): convict's own reading of flags
  // (yargs-parser) turns "1.50" into "1.5" and "0x10" into "16", which would change passwords, and
  // cannot report unknown flags; and it re-applies the environment after every load(), which would
  // put env above flags.
  const conf = convict<Record<string, unknown>>(schema, { env: {}, args: [] });

  const defaultsFile = options.defaultsFile === undefined ? DEFAULTS_FILE : options.defaultsFile;
  if (defaultsFile !== null) {
    const defaults = readJsonFile(defaultsFile, { optional: true });
    if (defaults !== undefined) conf.load(checkedLayer(defaults, schema, defaultsFile));
  }
  for (const file of args.configFiles) {
    const absolute = path.resolve(options.cwd, file);
    conf.load(checkedLayer(readJsonFile(absolute, { optional: false }), schema, absolute));
  }
  conf.load(envLayer(options.env, settings));
  conf.load(layerOf(args.flags));

  const values = conf.getProperties();
  for (const { path: key, setting } of settings) {
    const value = pick(values, key);
    const refusal = checkValue(value, setting);
    if (refusal) {
      throw new ConfigError({ key, value, detail: describeRefusal(key, refusal, setting) });
    }
  }
  try {
    conf.validate({ allowed: 'strict' });
  } catch (err) {
    // Our own checks above cover what convict checks; this is the backstop, so keep its words.
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
    const key = /'([^']+)'/.exec(first)?.[1] ?? /^([\w.]+):/.exec(first)?.[1] ?? 'config';
    throw new ConfigError({ key, detail: first, cause: err });
  }
  return deepFreeze(toConfig(values, options.cwd));
}

/** True when the arguments ask for the help text (the server prints `configHelp()` and exits). */
interface ParsedArgs {
  configFiles: string[];
  flags: Array<{ key: string; value: string | boolean }>;
}

function parseArgs(
  argv: readonly string[],
  settings: ReadonlyArray<{ path: string; setting: Setting }>,
): ParsedArgs {
  const byArg = new Map(settings.map((entry) => [entry.setting.arg, entry]));
  const parsed: ParsedArgs = { configFiles: [], flags: [] };
  let i = 0;
  while (i < argv.length) {
    const token = argv[i] ?? '';
    i += 1;
    if (token === '--help' || token === '-h') continue;
    if (!token.startsWith('--') || token === '--') {
      throw new ConfigError({ key: token, detail: `unexpected argument '${token}'` });
    }
    const equals = token.indexOf('=');
    const name = equals === -1 ? token.slice(2) : token.slice(2, equals);
    const inline = equals === -1 ? undefined : token.slice(equals + 1);
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i];
      if (next === undefined || next.startsWith('--')) {
        throw new ConfigError({ key: `--${name}`, detail: `option --${name} needs a value` });
      }
      i += 1;
      return next;
    };

    const entry = byArg.get(name);
    if (name === 'config') {
      parsed.configFiles.push(takeValue());
    } else if (entry?.setting.format === 'bool') {
      // A bare boolean flag means true; the next word is its value only when it reads as one,
      // which is unambiguous because no other arguments are taken.
      const next = argv[i];
      if (inline === undefined && next !== undefined && BOOLEAN_WORD.test(next)) {
        parsed.flags.push({ key: entry.path, value: next });
        i += 1;
      } else {
        parsed.flags.push({ key: entry.path, value: inline ?? true });
      }
    } else if (entry) {
      parsed.flags.push({ key: entry.path, value: takeValue() });
    } else {
      const negated = name.startsWith('no-') ? byArg.get(name.slice(3)) : undefined;
      if (negated?.setting.format !== 'bool' || inline !== undefined) {
        throw new ConfigError({ key: `--${name}`, detail: `unknown option --${name}` });
      }
      parsed.flags.push({ key: negated.path, value: false });
    }
  }
  return parsed;
}

const BOOLEAN_WORD = /^(true|false|yes|no|on|off|1|0)$/i;

function readJsonFile(file: string, options: { optional: boolean }): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (options.optional && isErrno(err) && err.code === 'ENOENT') return undefined;
    const reason = isErrno(err) ? (err.code ?? err.message) : String(err);
    throw new ConfigError({
      key: 'config',
      value: file,
      detail: `cannot read config file ${file}: ${reason}`,
      cause: err,
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError({
      key: 'config',
      value: file,
      detail: `config file ${file} is not valid JSON: ${reason}`,
      cause: err,
    });
  }
}

/**
 * Refuses keys the schema does not know, and a plain value where a group of settings belongs (convict
 * would store it over the whole group and the message would then name a missing child).
 */
function checkedLayer(data: unknown, schema: ConfigSchema, file: string): Record<string, unknown> {
  if (!isPlainObject(data)) {
    throw new ConfigError({
      key: 'config',
      value: file,
      detail: `config file ${file} must hold a JSON object`,
    });
  }
  const walk = (node: Record<string, unknown>, group: object, prefix: string): void => {
    for (const [name, value] of Object.entries(node)) {
      const key = prefix ? `${prefix}.${name}` : name;
      const child: unknown = Object.hasOwn(group, name)
        ? (group as Record<string, unknown>)[name]
        : undefined;
      if (child === undefined || typeof child !== 'object' || child === null) {
        throw new ConfigError({ key, value, detail: `unknown key ${key} in ${file}` });
      }
      if (isSetting(child)) {
        // 22 in JSON reads as decimal, not the octal 022 the writer almost surely meant.
        if (child.format === 'umask' && typeof value !== 'string') {
          throw new ConfigError({
            key,
            value,
            detail: `${key} must be an octal mode in quotes, like "022" (got ${showValue(value)})`,
          });
        }
        continue;
      }
      if (!isPlainObject(value)) {
        throw new ConfigError({
          key,
          value,
          detail: `${key} must be an object of settings (got ${showValue(value)})`,
        });
      }
      walk(value, child, key);
    }
  };
  walk(data, schema, '');
  return data;
}

function envLayer(
  env: NodeJS.ProcessEnv,
  settings: ReadonlyArray<{ path: string; setting: Setting }>,
): Record<string, unknown> {
  const entries: Array<{ key: string; value: string }> = [];
  for (const { path: key, setting } of settings) {
    const value = env[setting.env];
    if (value !== undefined) entries.push({ key, value });
  }
  return layerOf(entries);
}

/** Nests dotted keys, e.g. "limits.maxPacket" → { limits: { maxPacket } }, as convict's load() wants. */
function layerOf(entries: ReadonlyArray<{ key: string; value: unknown }>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const { key, value } of entries) {
    const parts = key.split('.');
    const last = parts.pop() ?? key;
    let node = root;
    for (const part of parts) {
      const next = node[part];
      if (isPlainObject(next)) {
        node = next;
      } else {
        const created: Record<string, unknown> = {};
        node[part] = created;
        node = created;
      }
    }
    node[last] = value;
  }
  return root;
}

function pick(values: Record<string, unknown>, key: string): unknown {
  let node: unknown = values;
  for (const part of key.split('.')) {
    if (!isPlainObject(node) || !Object.hasOwn(node, part)) return undefined;
    node = node[part];
  }
  return node;
}

/** Turns convict's untyped values, already checked, into the typed object, checking each type. */
function toConfig(values: Record<string, unknown>, cwd: string): Config {
  const read = <T>(key: string, guard: (value: unknown) => value is T): T => {
    const value = pick(values, key);
    if (!guard(value)) {
      throw new ConfigError({
        key,
        value,
        detail: `${key} has the wrong type (got ${showValue(value)})`,
      });
    }
    return value;
  };
  const text = (key: string): string => read(key, isString);
  const num = (key: string): number => read(key, isNumber);
  const dir = (key: string): string => path.resolve(cwd, text(key));

  return {
    host: text('host'),
    port: num('port'),
    dataDir: dir('dataDir'),
    keysDir: dir('keysDir'),
    runAs: text('runAs'),
    admin: { user: text('admin.user'), password: text('admin.password') },
    demoUser: { name: text('demoUser.name'), password: text('demoUser.password') },
    users: {
      defaultQuota: num('users.defaultQuota'),
      defaultFileQuota: num('users.defaultFileQuota'),
      umask: num('users.umask'),
    },
    argon2: {
      memoryKiB: num('argon2.memoryKiB'),
      timeCost: num('argon2.timeCost'),
      parallelism: num('argon2.parallelism'),
    },
    log: { level: read('log.level', isLogLevel), stdout: read('log.stdout', isBoolean) },
    ssh: { gcmForOpenssh: read('ssh.gcmForOpenssh', isBoolean) },
    hashing: {
      threads: num('hashing.threads'),
      maxJobsPerUser: num('hashing.maxJobsPerUser'),
      maxPathsPerCommand: num('hashing.maxPathsPerCommand'),
    },
    sharing: {
      store: read('sharing.store', isBoolean),
      leaseTime: num('sharing.leaseTime'),
      checkpointEvery: num('sharing.checkpointEvery'),
    },
    ops: readOps(text, num),
    store: {
      url: text('store.url'),
      poolSize: num('store.poolSize'),
      timeout: num('store.timeout'),
    },
    limits: {
      maxConnections: num('limits.maxConnections'),
      maxConnectionsPerIp: num('limits.maxConnectionsPerIp'),
      maxUnauthenticated: num('limits.maxUnauthenticated'),
      maxUnauthenticatedPerIp: num('limits.maxUnauthenticatedPerIp'),
      unauthenticatedDropStart: num('limits.unauthenticatedDropStart'),
      unauthenticatedDropRate: num('limits.unauthenticatedDropRate'),
      loginGraceTime: num('limits.loginGraceTime'),
      idleTimeout: num('limits.idleTimeout'),
      maxAuthTries: num('limits.maxAuthTries'),
      maxSessionsPerUser: num('limits.maxSessionsPerUser'),
      maxChannelsPerConnection: num('limits.maxChannelsPerConnection'),
      maxHandlesPerSession: num('limits.maxHandlesPerSession'),
      maxHandlesPerUser: num('limits.maxHandlesPerUser'),
      reservedDescriptors: num('limits.reservedDescriptors'),
      maxListingMemoryPerSession: num('limits.maxListingMemoryPerSession'),
      maxListingMemory: num('limits.maxListingMemory'),
      maxPacket: num('limits.maxPacket'),
      maxPendingRequests: num('limits.maxPendingRequests'),
      channelWindow: num('limits.channelWindow'),
      channelWindowBudget: num('limits.channelWindowBudget'),
      banThreshold: num('limits.banThreshold'),
      banWindow: num('limits.banWindow'),
      banTime: num('limits.banTime'),
      accountLockThreshold: num('limits.accountLockThreshold'),
      accountLockTime: num('limits.accountLockTime'),
    },
    balancer: {
      proxyProtocol: read('balancer.proxyProtocol', isBoolean),
      trustedProxies: text('balancer.trustedProxies'),
      proxyHeaderTimeout: num('balancer.proxyHeaderTimeout'),
      drainTimeout: num('balancer.drainTimeout'),
    },
    cluster: {
      workers: read('cluster.workers', isWorkers),
      nodeName: text('cluster.nodeName'),
      homesDir:
        text('cluster.homesDir') === ''
          ? path.join(dir('dataDir'), 'docs')
          : dir('cluster.homesDir'),
      heartbeatInterval: num('cluster.heartbeatInterval'),
      nodeTimeout: num('cluster.nodeTimeout'),
    },
  };
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (typeof child === 'object' && child !== null) deepFreeze(child);
  }
  return Object.freeze(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isBoolean(value: unknown): value is boolean {
  return typeof value === 'boolean';
}

function isLogLevel(value: unknown): value is Config['log']['level'] {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

function isWorkers(value: unknown): value is Config['cluster']['workers'] {
  return value === 'auto' || isNumber(value);
}
