/** Wires every part of the server together and starts listening. */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Config } from '../config/types';
import type { Logger } from '../log/types';
import { createLogger } from '../log/logger';
import { openStore } from '../store/sqlite-store';
import { PasswordHasher } from '../auth/passwords';
import { LoginThrottle } from '../auth/throttle';
import { QuotaManager } from '../quota/quota-manager';
import type { QuotaLedger } from '../quota/quota-ledger';
import { Homes } from '../vfs/homes';
import { ExtensionRegistry, registerStandardExtensions } from '../sftp/extensions';
import { MiniftpSshServer } from '../ssh/server';
import { ConnectionRegistry } from '../ssh/connections';
import { loadHostKeys } from '../ssh/host-keys';
import { ensureAccounts } from './accounts';
import { UploadLedger } from '../vfs/upload-ledger';
import { registerCheckFile } from '../sftp/check-file';
import { registerResume } from '../sftp/resume';
import { HashExec } from '../ssh/hash-exec';
import { AdminConsole } from '../admin/console';
import type { Store } from '../store/types';
import { MiniftpError, describeError, isErrno } from '../errors';
import { makeDirs } from '../util/make-dirs';

export interface RunningServer {
  readonly host: string;
  readonly port: number;
  readonly config: Config;
  readonly store: Store;
  readonly logger: Logger;
  readonly quota: QuotaLedger;
  readonly connections: ConnectionRegistry;
  /** Resolves once the background usage scan at start-up has finished. */
  readonly scanned: Promise<void>;
  close(): Promise<void>;
}

/** Why a directory cannot be used, for the operator starting the server. */
function dirProblem(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EEXIST':
      return 'a file of that name is in the way';
    case 'ENOTDIR':
      return 'part of the path is a file, not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'ENOENT':
      return 'a directory cannot be created there';
    default:
      return describeError(err);
  }
}

/**
 * Runs a start-up step that works in the directory a setting names; a failure
 * names the setting and its value: "cannot use dataDir '/srv/x': permission denied".
 */
async function inSetting<T>(setting: string, dir: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    const why = isErrno(err)
      ? dirProblem(err)
      : err instanceof MiniftpError && err.kind === 'failure'
        ? err.message
        : undefined;
    if (why === undefined) throw err;
    throw MiniftpError.invalid(`cannot use ${setting} '${dir}': ${why}`);
  }
}

function listenError(host: string, port: number, err: unknown): unknown {
  if (!isErrno(err)) return err;
  const why: Record<string, string> = {
    EADDRINUSE: `port ${port} is already in use (port)`,
    EADDRNOTAVAIL: `${host} is not an address of this machine (host)`,
    EACCES: `no permission to use port ${port}; ports below 1024 need privileges (port)`,
    ENOTFOUND: `the host name ${host} cannot be resolved (host)`,
    EAI_AGAIN: `the host name ${host} cannot be resolved (host)`,
    EINVAL: `${host} cannot be listened on here; a link-local address needs its interface, as in fe80::1%eth0 (host)`,
  };
  const text = err.code === undefined ? undefined : why[err.code];
  return text === undefined
    ? err
    : MiniftpError.invalid(`cannot listen on ${host}:${port}: ${text}`);
}

export async function startServer(
  config: Config,
  options: { logger?: Logger } = {},
): Promise<RunningServer> {
  // New files get exactly the configured umask, whatever the shell that started us had.
  process.umask(config.users.umask);
  const store = await inSetting('dataDir', config.dataDir, async () => {
    await makeDirs(config.dataDir, 0o700);
    const opened = openStore({ file: path.join(config.dataDir, 'miniftp.db') });
    try {
      await fsp.mkdir(path.join(config.dataDir, 'docs'), { recursive: true, mode: 0o700 });
    } catch (err) {
      opened.close();
      throw err;
    }
    return opened;
  });
  const logger =
    options.logger ??
    createLogger({
      dir: path.join(config.dataDir, 'log'),
      level: config.log.level,
      stdout: config.log.stdout,
    });
  try {
    const docsDir = path.join(config.dataDir, 'docs');
    const hasher = new PasswordHasher(config.argon2);
    // The in-process ledger; its rescans walk the homes (declared just below, used only later).
    const quota: QuotaLedger = new QuotaManager({
      store,
      logger,
      scanHome: (user, isOpen) => homes.scanUsage(user, isOpen),
    });
    const ledger = new UploadLedger(store);
    const homes = new Homes({
      docsDir: await fsp.realpath(docsDir),
      quota,
      hooks: (user) => ledger.hooks(user),
    });
    await ensureAccounts({ config, store, hasher, homes, logger });
    const hostKeys = await inSetting('keysDir', config.keysDir, () =>
      loadHostKeys({ dir: config.keysDir, logger }),
    );
    const throttle = new LoginThrottle({
      threshold: config.limits.banThreshold,
      windowSeconds: config.limits.banWindow,
      banSeconds: config.limits.banTime,
    });
    const connections = new ConnectionRegistry();
    const extensions = registerResume(
      registerCheckFile(registerStandardExtensions(new ExtensionRegistry()), ledger),
      ledger,
    );
    const ssh = new MiniftpSshServer({
      config,
      logger,
      store,
      hasher,
      throttle,
      homes,
      hostKeys,
      extensions,
      connections,
      userExec: new HashExec({ homes, logger }),
      console: new AdminConsole({
        store,
        hasher,
        quota,
        homes,
        connections,
        logger,
        adminName: config.admin.user,
        defaultQuota: config.users.defaultQuota,
        defaultFileQuota: config.users.defaultFileQuota,
      }),
    });
    const address = await ssh.listen(config.host, config.port).catch((err: unknown) => {
      throw listenError(config.host, config.port, err);
    });
    quota.start();
    // Usage is rebuilt from the disk in the background: connections are served meanwhile.
    const scanned = quota.rescanAll();
    logger.info('server.listening', { host: address.address, port: address.port });
    let closing: Promise<void> | undefined;
    return {
      host: address.address,
      port: address.port,
      config,
      store,
      logger,
      quota,
      connections,
      scanned,
      close: () => {
        closing ??= (async () => {
          await ssh.close();
          await scanned.catch(() => undefined);
          quota.stop();
          await ledger.close();
          store.close();
          logger.info('server.stopped');
          if (!options.logger) await logger.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    store.close();
    throw err;
  }
}
