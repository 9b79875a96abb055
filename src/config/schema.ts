import convict from 'convict';
import { parseSize } from './size';
import type { Config } from './types';

/**
 * How a setting's text (from the environment, a flag or a JSON string) is read and checked. These
 * are registered with convict as custom formats, so convict converts values the same way whichever
 * source they come from.
 */
export type FormatName = 'text' | 'path' | 'count' | 'size' | 'umask' | 'bool' | 'log-level';

/** One leaf of the schema: a convict property, plus the bounds our formats check. */
export interface Setting {
  readonly doc: string;
  readonly format: FormatName;
  /** In the shape a person writes it (sizes as "1G", umask as "022"). */
  readonly default: string | number | boolean;
  readonly env: string;
  /** Command-line flag without the leading "--". */
  readonly arg: string;
  /** Bounds of a 'count'; min defaults to 0, max to none. */
  readonly min?: number;
  readonly max?: number;
  /** A 'text' that may be empty. */
  readonly allowEmpty?: boolean;
  /** Never echoed in error messages. */
  readonly sensitive?: boolean;
}

/** The schema mirrors `Config` key for key, so the compiler catches a missing or stray setting. */
export type SchemaOf<T> = {
  readonly [K in keyof T]: T[K] extends object ? SchemaOf<T[K]> : Setting;
};

export type ConfigSchema = SchemaOf<Config>;

/**
 * Why a value was refused: a rule it breaks, shown after the key ("port must be an integer from 0
 * to 65535 (got 70000)"), or a parser's own complaint, shown after "key: ".
 */
export type Refusal = { rule: string; got: unknown } | { complaint: string };

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

// Node's timers overflow above 2^31 - 1 ms and then fire at once, so a longer timeout would act as
// "immediately" instead of "very long".
const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** A fresh schema object (convict keeps a reference to what it is given). */
export function configSchema(): ConfigSchema {
  return {
    host: {
      doc: 'Address to listen on. A non-loopback address is refused while the admin password is the default.',
      format: 'text',
      default: '127.0.0.1',
      env: 'MINIFTP_HOST',
      arg: 'host',
    },
    port: {
      doc: 'TCP port to listen on; 0 picks any free port.',
      format: 'count',
      default: 8808,
      min: 0,
      max: 65535,
      env: 'MINIFTP_PORT',
      arg: 'port',
    },
    dataDir: {
      doc: 'Directory for the database, the user homes (docs/<user>/) and the logs (log/). Relative to the working directory.',
      format: 'path',
      default: './data',
      env: 'MINIFTP_DATA_DIR',
      arg: 'data-dir',
    },
    keysDir: {
      doc: 'Directory for the host keys, generated on first start. Relative to the working directory.',
      format: 'path',
      default: './keys',
      env: 'MINIFTP_KEYS_DIR',
      arg: 'keys-dir',
    },
    runAs: {
      doc: 'System user to run as once the port is bound and the host keys are read (the server must start as root); the data directory then belongs to that user. Empty: stay the user that started it.',
      format: 'text',
      default: '',
      allowEmpty: true,
      env: 'MINIFTP_RUN_AS',
      arg: 'run-as',
    },
    admin: {
      user: {
        doc: 'Name of the administrator account, which gets the admin console instead of SFTP.',
        format: 'text',
        default: 'admin',
        env: 'MINIFTP_ADMIN_USER',
        arg: 'admin-user',
      },
      password: {
        doc: 'Password the administrator account gets when it is first created; change it from the console afterwards.',
        format: 'text',
        default: 'password',
        env: 'MINIFTP_ADMIN_PASSWORD',
        arg: 'admin-password',
        sensitive: true,
      },
    },
    demoUser: {
      name: {
        doc: 'Ordinary user created on first start; empty for none.',
        format: 'text',
        default: 'zhangsan',
        allowEmpty: true,
        env: 'MINIFTP_DEMO_USER_NAME',
        arg: 'demo-user-name',
      },
      password: {
        doc: 'Password the demo user gets when it is first created.',
        format: 'text',
        default: '123',
        env: 'MINIFTP_DEMO_USER_PASSWORD',
        arg: 'demo-user-password',
        sensitive: true,
      },
    },
    users: {
      defaultQuota: {
        doc: 'Byte quota of new users, like 500M or 1G (K, M, G, T are 1024-based); 0 or "unlimited" for none.',
        format: 'size',
        default: '1G',
        env: 'MINIFTP_USERS_DEFAULT_QUOTA',
        arg: 'default-quota',
      },
      defaultFileQuota: {
        doc: 'Most files a new user may have; 0 for unlimited.',
        format: 'count',
        default: 0,
        env: 'MINIFTP_USERS_DEFAULT_FILE_QUOTA',
        arg: 'default-file-quota',
      },
      umask: {
        doc: 'Octal permission bits removed from new files and directories.',
        format: 'umask',
        default: '022',
        env: 'MINIFTP_USERS_UMASK',
        arg: 'umask',
      },
    },
    argon2: {
      memoryKiB: {
        doc: 'Memory of one argon2id password hash in KiB (19456, the OWASP minimum, or more).',
        format: 'count',
        default: 19456,
        min: 19456,
        max: 4 * 1024 * 1024,
        env: 'MINIFTP_ARGON2_MEMORY_KIB',
        arg: 'argon2-memory-kib',
      },
      timeCost: {
        doc: 'Passes argon2id makes over its memory.',
        format: 'count',
        default: 2,
        min: 1,
        max: 1000,
        env: 'MINIFTP_ARGON2_TIME_COST',
        arg: 'argon2-time-cost',
      },
      parallelism: {
        doc: 'Lanes argon2id computes in parallel.',
        format: 'count',
        default: 1,
        min: 1,
        max: 256,
        env: 'MINIFTP_ARGON2_PARALLELISM',
        arg: 'argon2-parallelism',
      },
    },
    log: {
      level: {
        doc: 'Least severe level logged: debug, info, warn or error.',
        format: 'log-level',
        default: 'info',
        env: 'MINIFTP_LOG_LEVEL',
        arg: 'log-level',
      },
      stdout: {
        doc: 'Also print readable log lines on stdout (the JSON files in <dataDir>/log/ are always written).',
        format: 'bool',
        default: true,
        env: 'MINIFTP_LOG_STDOUT',
        arg: 'log-stdout',
      },
    },
    ssh: {
      gcmForOpenssh: {
        doc: 'Offer OpenSSH clients (which put chacha20 and AES-CTR ahead of AES-GCM) only AES-GCM, the fastest cipher here. Turn off if your OpenSSH clients are restricted to other ciphers; they then get the full list.',
        format: 'bool',
        default: true,
        env: 'MINIFTP_SSH_GCM_FOR_OPENSSH',
        arg: 'gcm-for-openssh',
      },
    },
    hashing: {
      threads: {
        doc: 'Threads that compute the checksums clients ask for (check-file, md5sum and the like over exec); 0 = one less than the CPU cores, from 1 to 4.',
        format: 'count',
        default: 0,
        max: 64,
        env: 'MINIFTP_HASHING_THREADS',
        arg: 'hashing-threads',
      },
      maxJobsPerUser: {
        doc: 'Checksums one user may have being computed or waiting at once; more are refused until one finishes.',
        format: 'count',
        default: 16,
        min: 1,
        env: 'MINIFTP_HASHING_MAX_JOBS_PER_USER',
        arg: 'hashing-max-jobs-per-user',
      },
      maxPathsPerCommand: {
        doc: 'Files one md5sum (sha1sum, sha256sum, sha512sum) command over exec may name; a longer command is refused with a usage error.',
        format: 'count',
        default: 100,
        min: 1,
        env: 'MINIFTP_HASHING_MAX_PATHS_PER_COMMAND',
        arg: 'hashing-max-paths-per-command',
      },
    },
    limits: {
      maxConnections: {
        doc: 'Open connections at once, from all addresses.',
        format: 'count',
        default: 200,
        min: 1,
        env: 'MINIFTP_LIMITS_MAX_CONNECTIONS',
        arg: 'max-connections',
      },
      maxConnectionsPerIp: {
        doc: 'Open connections at once from one IP address.',
        format: 'count',
        // Above what one user's parallel clients open (rclone at its defaults: 16).
        default: 64,
        min: 1,
        env: 'MINIFTP_LIMITS_MAX_CONNECTIONS_PER_IP',
        arg: 'max-connections-per-ip',
      },
      maxUnauthenticated: {
        doc: "Connections at once that have not logged in yet; past it every new one is dropped (the 'full' of OpenSSH's MaxStartups).",
        format: 'count',
        default: 100,
        min: 1,
        env: 'MINIFTP_LIMITS_MAX_UNAUTHENTICATED',
        arg: 'max-unauthenticated',
      },
      maxUnauthenticatedPerIp: {
        doc: 'Connections at once from one IP address that have not logged in yet.',
        format: 'count',
        default: 16,
        min: 1,
        env: 'MINIFTP_LIMITS_MAX_UNAUTHENTICATED_PER_IP',
        arg: 'max-unauthenticated-per-ip',
      },
      unauthenticatedDropStart: {
        doc: "Connections not logged in yet from which new ones are dropped at random (the 'start' of OpenSSH's MaxStartups); at or above max-unauthenticated, none are.",
        format: 'count',
        default: 40,
        min: 1,
        env: 'MINIFTP_LIMITS_UNAUTHENTICATED_DROP_START',
        arg: 'unauthenticated-drop-start',
      },
      unauthenticatedDropRate: {
        doc: "Percent of new connections dropped at unauthenticated-drop-start, rising to 100 at max-unauthenticated (the 'rate' of OpenSSH's MaxStartups).",
        format: 'count',
        default: 30,
        max: 100,
        env: 'MINIFTP_LIMITS_UNAUTHENTICATED_DROP_RATE',
        arg: 'unauthenticated-drop-rate',
      },
      loginGraceTime: {
        doc: 'Seconds a connection has from accept to a successful login, whatever it sends meanwhile.',
        format: 'count',
        default: 20,
        min: 1,
        max: MAX_TIMER_SECONDS,
        env: 'MINIFTP_LIMITS_LOGIN_GRACE_TIME',
        arg: 'login-grace-time',
      },
      idleTimeout: {
        doc: 'Seconds a logged-in connection may go unused (no SFTP request, no console input; keepalives do not count) before it is closed; 0 for never.',
        format: 'count',
        default: 900,
        max: MAX_TIMER_SECONDS,
        env: 'MINIFTP_LIMITS_IDLE_TIMEOUT',
        arg: 'idle-timeout',
      },
      maxAuthTries: {
        doc: 'Failed authentication attempts allowed on one connection before it is closed; each public key offered that is not on file counts, as in OpenSSH.',
        format: 'count',
        default: 6,
        min: 1,
        env: 'MINIFTP_LIMITS_MAX_AUTH_TRIES',
        arg: 'max-auth-tries',
      },
      maxSessionsPerUser: {
        doc: 'Logged-in connections one user may have at once (each can carry several SFTP channels).',
        format: 'count',
        // rclone at its defaults opens up to 16, lftp mirror -P N opens N.
        default: 50,
        min: 1,
        env: 'MINIFTP_LIMITS_MAX_SESSIONS_PER_USER',
        arg: 'max-sessions-per-user',
      },
      maxChannelsPerConnection: {
        doc: "Session channels (SFTP, exec, shell) open at once on one connection, as OpenSSH's MaxSessions; each SFTP channel has its own handle limit.",
        format: 'count',
        default: 10,
        min: 1,
        env: 'MINIFTP_LIMITS_MAX_CHANNELS_PER_CONNECTION',
        arg: 'max-channels-per-connection',
      },
      maxHandlesPerSession: {
        doc: 'Open file and directory handles in one SFTP session.',
        format: 'count',
        default: 256,
        min: 1,
        env: 'MINIFTP_LIMITS_MAX_HANDLES_PER_SESSION',
        arg: 'max-handles-per-session',
      },
      // Open handles, descriptors and listings (docs/security.md).
      maxHandlesPerUser: {
        doc: "Open file and directory handles one user may have across all their sessions; 0 for an eighth of the server's handle budget (the open-files limit less the reserve).",
        format: 'count',
        default: 0,
        env: 'MINIFTP_LIMITS_MAX_HANDLES_PER_USER',
        arg: 'max-handles-per-user',
      },
      reservedDescriptors: {
        doc: 'File descriptors kept out of the handle budget for accepting connections, logins, the logs and the database; 0 for 64 plus two per allowed connection. At most half the open-files limit.',
        format: 'count',
        default: 0,
        env: 'MINIFTP_LIMITS_RESERVED_DESCRIPTORS',
        arg: 'reserved-descriptors',
      },
      maxListingMemoryPerSession: {
        doc: 'Memory the open directory listings of one SFTP session may buffer (each open directory handle counts 128 KiB); 0 for no limit.',
        format: 'size',
        default: '8M',
        env: 'MINIFTP_LIMITS_MAX_LISTING_MEMORY_PER_SESSION',
        arg: 'max-listing-memory-per-session',
      },
      maxListingMemory: {
        doc: 'Memory the open directory listings of all sessions together may buffer; 0 for no limit.',
        format: 'size',
        default: '256M',
        env: 'MINIFTP_LIMITS_MAX_LISTING_MEMORY',
        arg: 'max-listing-memory',
      },
      maxPacket: {
        doc: 'Largest SFTP packet body in bytes: 256 KiB of data plus room for the request header.',
        format: 'count',
        default: 256 * 1024 + 1024,
        // SFTP v3 (draft-02, section 3) requires servers to take packets of 34000 bytes.
        min: 34000,
        max: 4 * 1024 * 1024,
        env: 'MINIFTP_LIMITS_MAX_PACKET',
        arg: 'max-packet',
      },
      maxPendingRequests: {
        doc: 'SFTP requests served at once on one channel before the server stops reading it.',
        format: 'count',
        default: 128,
        min: 1,
        env: 'MINIFTP_LIMITS_MAX_PENDING_REQUESTS',
        arg: 'max-pending-requests',
      },
      banThreshold: {
        doc: 'Failed logins from one IP address within ban-window seconds that get it banned.',
        format: 'count',
        default: 10,
        min: 1,
        env: 'MINIFTP_LIMITS_BAN_THRESHOLD',
        arg: 'ban-threshold',
      },
      banWindow: {
        doc: 'Seconds over which failed logins are counted for a ban.',
        format: 'count',
        default: 300,
        min: 1,
        env: 'MINIFTP_LIMITS_BAN_WINDOW',
        arg: 'ban-window',
      },
      banTime: {
        doc: 'Seconds a banned IP address stays banned.',
        format: 'count',
        default: 900,
        min: 1,
        env: 'MINIFTP_LIMITS_BAN_TIME',
        arg: 'ban-time',
      },
      accountLockThreshold: {
        doc: 'Failed password logins for one account within ban-window seconds, from addresses it has not logged in from, that lock it for such addresses; 0 for never.',
        format: 'count',
        default: 20,
        env: 'MINIFTP_LIMITS_ACCOUNT_LOCK_THRESHOLD',
        arg: 'account-lock-threshold',
      },
      accountLockTime: {
        doc: 'Seconds an account stays locked for addresses it has not logged in from.',
        format: 'count',
        default: 300,
        min: 1,
        env: 'MINIFTP_LIMITS_ACCOUNT_LOCK_TIME',
        arg: 'account-lock-time',
      },
    },
  };
}

/** Every leaf with its dotted path ("limits.maxPacket"), in schema order. */
export function listSettings(schema: ConfigSchema): Array<{ path: string; setting: Setting }> {
  const found: Array<{ path: string; setting: Setting }> = [];
  const walk = (node: object, prefix: string): void => {
    for (const [key, child] of Object.entries(node)) {
      if (!isObject(child)) continue;
      const path = prefix ? `${prefix}.${key}` : key;
      if (isSetting(child)) found.push({ path, setting: child });
      else walk(child, path);
    }
  };
  walk(schema, '');
  return found;
}

export function isSetting(node: unknown): node is Setting {
  return (
    isObject(node) &&
    'default' in node &&
    typeof node.format === 'string' &&
    node.format in FORMATS &&
    typeof node.env === 'string' &&
    typeof node.arg === 'string'
  );
}

/** The problem with a value already converted by its format, or undefined when it is fine. */
export function checkValue(value: unknown, setting: Setting): Refusal | undefined {
  return FORMATS[setting.format].check(value, setting);
}

/** One line of text about a refused value, e.g. "port must be an integer from 0 to 65535 (got 70000)". */
export function describeRefusal(key: string, refusal: Refusal, setting?: Setting): string {
  if ('complaint' in refusal) return `${key}: ${refusal.complaint}`;
  if (setting?.sensitive) return `${key} ${refusal.rule}`;
  return `${key} ${refusal.rule} (got ${showValue(refusal.got)})`;
}

export function showValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === undefined) return 'nothing';
  return JSON.stringify(value) ?? String(value);
}

/**
 * Registers our formats with convict. Convict keeps formats in its own module-wide table; adding
 * the same functions again is harmless, so every load may call this.
 */
export function addConfigFormats(): void {
  for (const [name, format] of Object.entries(FORMATS)) {
    convict.addFormat({
      name,
      validate: (value: unknown, node: unknown) => {
        if (!isSetting(node)) return;
        const refusal = format.check(value, node);
        if (refusal) throw new Error(describeRefusal('value', refusal, node));
      },
      coerce: (text: string) => format.convert(text),
    });
  }
}

interface FormatRules {
  /** Reads text from the environment, a flag or a JSON string. Leaves text it cannot read as is,
   * so that `check` reports it with the setting's name (convict would lose the name). */
  convert(text: string): unknown;
  check(value: unknown, setting: Setting): Refusal | undefined;
}

const FORMATS: Readonly<Record<FormatName, FormatRules>> = {
  text: {
    convert: (text) => text,
    check: (value, setting) => {
      if (typeof value !== 'string') return { rule: 'must be a string', got: value };
      if (value === '' && !setting.allowEmpty) return { rule: 'must not be empty', got: value };
      return undefined;
    },
  },
  path: {
    convert: (text) => text,
    check: (value) =>
      typeof value === 'string' && value.trim() !== '' && !value.includes('\0')
        ? undefined
        : { rule: 'must be a directory path', got: value },
  },
  count: {
    convert: (text) => (/^\s*[+-]?\d+(\.\d+)?\s*$/.test(text) ? Number(text) : text),
    check: (value, setting) => {
      const min = setting.min ?? 0;
      const max = setting.max ?? Number.MAX_SAFE_INTEGER;
      if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) {
        return undefined;
      }
      const rule =
        setting.max === undefined
          ? `must be an integer of at least ${min}`
          : `must be an integer from ${min} to ${max}`;
      return { rule, got: value };
    },
  },
  size: {
    convert: (text) => {
      try {
        return parseSize(text);
      } catch {
        return text;
      }
    },
    check: (value) => {
      if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return undefined;
      if (typeof value !== 'string' && typeof value !== 'number') {
        return { rule: 'must be a size like 500M or 1G', got: value };
      }
      try {
        parseSize(value);
      } catch (err) {
        return { complaint: err instanceof Error ? err.message : String(err) };
      }
      // Text that parses would have been converted; reaching here means a caller skipped convert.
      return { rule: 'must be converted to bytes before it is checked', got: value };
    },
  },
  umask: {
    convert: (text) => (/^\s*[0-7]{1,4}\s*$/.test(text) ? parseInt(text, 8) : text),
    check: (value) =>
      typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0o777
        ? undefined
        : { rule: "must be an octal mode from '000' to '777'", got: value },
  },
  bool: {
    // convict's own Boolean format turns every text but "false" into true, so "no" would mean yes.
    convert: (text) => {
      const word = text.trim().toLowerCase();
      if (['true', 'yes', 'on', '1'].includes(word)) return true;
      if (['false', 'no', 'off', '0'].includes(word)) return false;
      return text;
    },
    check: (value) =>
      typeof value === 'boolean' ? undefined : { rule: 'must be true or false', got: value },
  },
  'log-level': {
    convert: (text) => text.trim().toLowerCase(),
    check: (value) =>
      typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value)
        ? undefined
        : { rule: `must be one of ${LOG_LEVELS.join(', ')}`, got: value },
  },
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
