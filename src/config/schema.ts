/**
 * The settings, section by section, in the order docs/configuration.md lists them (the formats
 * are in formats.ts, the `limits` section in limits-schema.ts, `store` in store-schema.ts,
 * `balancer` in balancer-schema.ts, `cluster` in cluster-schema.ts).
 */
import { isObject, isSetting, type SchemaOf, type Setting } from './formats';
import { balancerSchema } from './balancer-schema';
import { clusterSchema } from './cluster-schema';
import { limitsSchema } from './limits-schema';
import { opsSchema } from './ops-schema';
import { storeSchema } from './store-schema';
import type { Config } from './types';

export type ConfigSchema = SchemaOf<Config>;

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
    sharing: {
      store: {
        doc: "Several server processes serve this data directory's homes from its one database at the same time: quota is then kept exact across them with escrow grants, and an upload dropped in one process resumes in another (docs/quotas.md). Off: one server per data directory, which its database lock enforces. A PostgreSQL store (store.url) is always shared this way.",
        format: 'bool',
        default: false,
        env: 'MINIFTP_SHARING_STORE',
        arg: 'shared-store',
      },
      leaseTime: {
        doc: "Seconds a process's quota grants and upload writer leases outlive it when it stops renewing them (a killed process or a lost node): the quota it held returns, and its uploads can be resumed elsewhere, after this long.",
        format: 'count',
        default: 10,
        min: 1,
        max: 3600,
        env: 'MINIFTP_SHARING_LEASE_TIME',
        arg: 'lease-time',
      },
      checkpointEvery: {
        doc: "With a shared store, an upload's running MD5 is saved every this many bytes, so that a resume in another process hashes only what came after the last save.",
        format: 'size',
        default: '8M',
        env: 'MINIFTP_SHARING_CHECKPOINT_EVERY',
        arg: 'checkpoint-every',
      },
    },
    ops: opsSchema(),
    store: storeSchema(),
    limits: limitsSchema(),
    balancer: balancerSchema(),
    cluster: clusterSchema(),
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
