/** Wires every part of the server together and starts listening. */
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Config } from '../config/types';
import type { LogFields, Logger } from '../log/types';
import { createLogger } from '../log/logger';
import { PasswordHasher } from '../auth/passwords';
import { LoginThrottle } from '../auth/throttle';
import type { QuotaLedger } from '../quota/quota-ledger';
import { sharingParts } from './sharing';
import { Homes } from '../vfs/homes';
import { quotaLedgers } from './quota-wiring';
import { AccessDirectory, prepareFoldersDir } from '../access/directory';
import { ExtensionRegistry, registerStandardExtensions } from '../sftp/extensions';
import { MiniftpSshServer } from '../ssh/server';
import { ConnectionRegistry } from '../ssh/connections';
import { loadHostKeys } from '../ssh/host-keys';
import { ensureAccounts } from './accounts';
import { UploadLedger } from '../uploads/upload-ledger';
import type { SharingOptions } from '../uploads/writer-leases';
import type { DiskFile } from '../store/upload-share-types';
import { registerCheckFile } from '../sftp/check-file';
import { registerResume } from '../sftp/resume';
import { HashExec } from '../ssh/hash-exec';
import { HashPool, type HashPoolStats } from '../vfs/hash-pool';
import { AdminConsole } from '../admin/console';
import type { Ops } from '../ops/ops';
import type { DrainStarted } from '../admin/types';
import type { Store } from '../store/types';
import { buildOps, instrumentStore, listenForMetrics } from './ops-wiring';
import { MiniftpError, describeError, isErrno } from '../errors';
import { makeDirs } from '../util/make-dirs';
import {
  type SystemUser,
  bypassesModes,
  checkRunAs,
  dropPrivileges,
  effectiveCapabilities,
  lookupUser,
  prepareDataDir,
} from './privileges';
import { HandleBudget, planDescriptors } from '../sftp/handle-budget';
import { raiseOpenFilesLimit } from './open-files';
import { type ProcessIdentity, idPrefix, opsNode, setupCluster } from './cluster-setup';
import { openConfiguredStore } from './store';
import { inSetting } from './setting-dirs';

export type { ProcessIdentity } from './cluster-setup';

export interface RunningServer {
  readonly host: string;
  readonly port: number;
  readonly config: Config;
  readonly store: Store;
  readonly logger: Logger;
  /** Metrics, hooks, login history, address lists, per-user limits. */
  readonly ops: Ops;
  /** The metrics listener's address, when one is configured. */
  readonly metrics: { host: string; port: number } | undefined;
  readonly quota: QuotaLedger;
  readonly connections: ConnectionRegistry;
  /** Open SFTP handles and buffered listings, server-wide and per user. */
  readonly handles: HandleBudget;
  /** Resolves once the background usage scan at start-up has finished. */
  readonly scanned: Promise<void>;
  /** The checksums clients asked for that are being computed or wait for a thread. */
  hashingStats(): HashPoolStats;
  /** Stops at once: every connection is ended now. */
  close(): Promise<void>;
  /**
   * Stops gracefully: no new connections, the open ones get `timeoutSeconds`
   * (the configured drain timeout by default) to finish, those left are told
   * to reconnect and ended, then the server closes. A close() meanwhile ends
   * them at once. Returns the timeout in force and whether a drain had started.
   */
  drain(timeoutSeconds?: number): DrainStarted;
  /** Resolves once the server has closed, by close() or at the end of a drain. */
  readonly stopped: Promise<void>;
}

/** What a client ended by a drain is told (OpenSSH's sftp prints it). */
export const DRAIN_REASON = 'server is shutting down for maintenance; reconnect to continue';

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

/**
 * Lines logged before the log file can be opened (the host keys are read
 * before the data directory is touched); written to the real logger later.
 */
class EarlyLog implements Logger {
  private readonly lines: Array<{
    level: 'debug' | 'info' | 'warn' | 'error';
    event: string;
    fields?: LogFields;
  }> = [];

  debug(event: string, fields?: LogFields): void {
    this.lines.push({ level: 'debug', event, fields });
  }
  info(event: string, fields?: LogFields): void {
    this.lines.push({ level: 'info', event, fields });
  }
  warn(event: string, fields?: LogFields): void {
    this.lines.push({ level: 'warn', event, fields });
  }
  error(event: string, fields?: LogFields): void {
    this.lines.push({ level: 'error', event, fields });
  }
  child(): Logger {
    return this;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }

  replay(to: Logger): void {
    for (const l of this.lines) to[l.level](l.event, l.fields);
    this.lines.length = 0;
  }
}

/**
 * The listening socket, bound first: with `runAs` the process gives up root
 * right after, and a port below 1024 needs it. Connections accepted before
 * the SSH server takes the socket over wait in `accepted`.
 */
function bindPort(
  host: string,
  port: number,
): Promise<{ server: net.Server; accepted: net.Socket[] }> {
  const accepted: net.Socket[] = [];
  const server = net.createServer({ noDelay: true }, (socket) => accepted.push(socket));
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(listenError(host, port, err)));
    server.listen({ host, port }, () => resolve({ server, accepted }));
  });
}

/**
 * Raises the open-files limit to its ceiling and shares it out (docs/security.md,
 * "Open handles, descriptors and listings"): a reserve for connections, logins,
 * the logs and the store, the rest for SFTP handles.
 */
function openFilesBudget(config: Config, logger: Logger): HandleBudget {
  const nofile = raiseOpenFilesLimit();
  const { limits } = config;
  const plan = planDescriptors(Number.isFinite(nofile.soft) ? nofile.soft : 1024 * 1024, {
    reserved: limits.reservedDescriptors,
    perUser: limits.maxHandlesPerUser,
    maxConnections: limits.maxConnections,
  });
  const fields = {
    soft: nofile.soft,
    hard: nofile.hard,
    raised_from: nofile.before,
    reserve: plan.reserve,
    handles: plan.total,
    handles_per_user: plan.perUser,
  };
  if (nofile.problem || plan.reserveCut) {
    const reason = nofile.problem ?? 'the reserve was cut to half the open-files limit';
    logger.warn('server.open_files', { ...fields, reason });
  } else logger.info('server.open_files', fields);
  return new HandleBudget({
    perUser: plan.perUser,
    total: plan.total,
    listingBytes: limits.maxListingMemory,
  });
}

export async function startServer(
  config: Config,
  options: { logger?: Logger; identity?: ProcessIdentity } = {},
): Promise<RunningServer> {
  const homesDir = config.cluster.homesDir;
  // New files get exactly the configured umask, whatever the shell that started us had.
  process.umask(config.users.umask);
  let runAs: SystemUser | undefined;
  if (config.runAs !== '') {
    runAs = lookupUser(config.runAs);
    checkRunAs(runAs);
  }
  const early = new EarlyLog();
  // Read while the process may still be root: the keys can stay readable by root alone.
  const hostKeys = await inSetting('keysDir', config.keysDir, () =>
    loadHostKeys({ dir: config.keysDir, logger: options.logger ?? early }),
  );
  const port = await bindPort(config.host, config.port);
  const unbind = (): void => {
    port.server.close();
    for (const s of port.accepted) s.destroy();
  };
  let store: Store;
  // The logger (data directory) opens after the store: until then the early logger hears.
  let storeLogger: Logger = options.logger ?? early;
  try {
    if (runAs) {
      const user = runAs;
      await inSetting('dataDir', config.dataDir, () => prepareDataDir(config.dataDir, user));
      dropPrivileges(user);
    }
    store = await inSetting(
      'dataDir',
      config.dataDir,
      async () => {
        await makeDirs(config.dataDir, 0o700);
        const opened = await openConfiguredStore(
          config,
          (err) => storeLogger.warn('store.connection_lost', { error: describeError(err) }),
          // The workers of one node open the SQLite file together.
          { shared: options.identity?.worker !== undefined },
        );
        try {
          await inSetting('homesDir', homesDir, () =>
            fsp.mkdir(homesDir, { recursive: true, mode: 0o700 }),
          );
        } catch (err) {
          await opened.close();
          throw err;
        }
        return opened;
      },
      runAs,
    );
  } catch (err) {
    unbind();
    throw err;
  }
  const worker = options.identity?.worker;
  const ownLogger =
    options.logger ??
    createLogger({
      dir: path.join(config.dataDir, 'log'),
      level: config.log.level,
      stdout: config.log.stdout,
    });
  // The workers of a node share its log files: each line says whose it is.
  const logger = worker === undefined ? ownLogger : ownLogger.child({ worker });
  early.replay(logger);
  storeLogger = logger;
  logger.info('store.opened', { kind: store.kind, location: store.location });
  let bansActive = (): number => 0;
  const instrumented = instrumentStore(config, store, () => bansActive());
  store = instrumented.store;
  try {
    if (bypassesModes(effectiveCapabilities())) {
      // Only where the server is embedded: miniftp-server itself never serves like this.
      logger.warn('server.modes_not_enforced', {
        reason: 'the process has CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH',
      });
    }
    const hasher = new PasswordHasher(config.argon2);
    const shared = sharingParts(config, store, logger, options.identity?.worker !== undefined);
    // Rescans walk the homes and folders (declared just below, used only later).
    const { quota, folderQuota } = quotaLedgers({
      store,
      logger,
      shared,
      homes: () => homes,
      access: () => access,
    });
    const access = store.access
      ? new AccessDirectory({
          store: store.access,
          quota,
          foldersDir: prepareFoldersDir(homesDir),
          logger,
        })
      : undefined;
    await access?.load();
    const hashing = new HashPool(config.hashing);
    // A holder gone mid-upload: the sweep of its leases measures its files in the homes.
    const uploadSharing: SharingOptions | undefined = shared && {
      ...shared.uploads,
      fileAt: (user: string, p: string): Promise<DiskFile | undefined> => homes.fileAt(user, p),
    };
    const ledger = new UploadLedger(store, hashing, logger, uploadSharing);
    const homes = new Homes({
      docsDir: await fsp.realpath(homesDir),
      quota,
      uploads: ledger,
      access,
    });
    await ensureAccounts({ config, store, hasher, homes, logger });
    const throttle = new LoginThrottle({
      threshold: config.limits.banThreshold,
      windowSeconds: config.limits.banWindow,
      banSeconds: config.limits.banTime,
      accountThreshold: config.limits.accountLockThreshold,
      accountLockSeconds: config.limits.accountLockTime,
    });
    bansActive = () => throttle.bansActive;
    const ops = buildOps({
      config,
      store,
      logger,
      metrics: instrumented.metrics,
      homes,
      hashing,
      node: opsNode(options.identity, config),
    });
    if (config.balancer.proxyProtocol && config.balancer.trustedProxies.trim() === '') {
      throw MiniftpError.invalid(
        'proxyProtocol is on but trustedProxies is empty: name the balancers, as in --trusted-proxies 10.0.0.5',
      );
    }
    const connections = new ConnectionRegistry(idPrefix(options.identity, store.kind));
    const cluster = await setupCluster({
      config,
      identity: options.identity,
      store,
      registry: connections,
      throttle,
      quota,
      logger,
    });
    const handles = openFilesBudget(config, logger);
    // The console's `drain` reaches the server built below.
    const late: { drain?: RunningServer['drain'] } = {};
    const extensions = registerResume(
      registerCheckFile(registerStandardExtensions(new ExtensionRegistry()), ledger, hashing),
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
      handles,
      ops,
      userExec: new HashExec({
        homes,
        logger,
        pool: hashing,
        maxPaths: config.hashing.maxPathsPerCommand,
      }),
      console: new AdminConsole({
        store,
        hasher,
        quota,
        homes,
        access,
        connections: cluster.sessions,
        nodes: cluster.nodes,
        logger,
        adminName: config.admin.user,
        defaultQuota: config.users.defaultQuota,
        defaultFileQuota: config.users.defaultFileQuota,
        drain: (seconds) => {
          if (!late.drain) throw MiniftpError.busy('the server is still starting');
          return late.drain(seconds);
        },
        ops,
      }),
    });
    await ops.start();
    const metricsServer = await listenForMetrics(config, instrumented.metrics, logger);
    const address = await ssh.listen(port.server, port.accepted);
    quota.start();
    access?.start();
    // Usage is rebuilt from the disk in the background, connections served meanwhile; a shared
    // store's usage is kept by every process (a scan would miscount): only folders rescan.
    const scanned = shared ? folderQuota.rescanAll() : quota.rescanAll();
    logger.info('server.listening', {
      host: address.address,
      port: address.port,
      ...(runAs ? { user: runAs.name, uid: runAs.uid } : {}),
    });
    let closing: Promise<void> | undefined;
    let draining: DrainStarted | undefined;
    let markStopped: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (markStopped = resolve));
    const close = (): Promise<void> => {
      closing ??= (async () => {
        access?.stop();
        await ssh.close();
        await cluster.stop();
        await metricsServer?.close();
        await ops.stop();
        await hashing.close();
        await scanned.catch(() => undefined);
        await quota.stop();
        await ledger.close();
        await store.close();
        logger.info('server.stopped');
        if (!options.logger) await ownLogger.close();
        markStopped();
      })();
      return closing;
    };
    const drain: RunningServer['drain'] = (timeoutSeconds = config.balancer.drainTimeout) => {
      if (draining) return { ...draining, already: true };
      draining = { timeoutSeconds, already: false };
      void ssh.drain(timeoutSeconds, DRAIN_REASON).then(close);
      return draining;
    };
    late.drain = drain;
    return {
      host: address.address,
      port: address.port,
      config,
      store,
      logger,
      ops,
      metrics: metricsServer && { host: metricsServer.host, port: metricsServer.port },
      quota,
      connections,
      handles,
      scanned,
      hashingStats: () => hashing.stats,
      close,
      drain,
      stopped,
    };
  } catch (err) {
    unbind();
    await store.close();
    throw err;
  }
}
