/**
 * Operations in one place for the layers that report to it (ssh, sftp, admin): the metrics, the
 * event hooks, the login history, the address lists, and the per-user transfer settings (limits
 * and session caps), kept in memory so that the accept and login paths ask them without waiting.
 * Changes made on another node reach this one within `refreshMs`.
 */
import * as os from 'node:os';
import type { Config } from '../config/types';
import { describeError } from '../errors';
import type { Logger } from '../log/types';
import type { LoginResult, OpsStore, UserLimits } from '../store/ops-types';
import { clip } from '../util/clip';
import { AddressLists } from './address-lists';
import type { EventFields, HookDispatcher, HookEvent } from './hook-dispatcher';
import type { Metrics, SessionKind } from './metrics';
import { SessionOps } from './session-ops';
import { Bandwidth } from './token-bucket';

export interface OpsOptions {
  store: OpsStore;
  config: Config['ops'];
  logger: Logger;
  hooks: HookDispatcher;
  metrics?: Metrics;
  /** The server's maxSessionsPerUser, for users without a setting of their own. */
  defaultMaxSessions: number;
  /** This server's name (default: the host name). */
  node?: string;
  /** How often rules and settings are read again; ms. */
  refreshMs?: number;
}

export interface LoginAttempt {
  user: string;
  address: string;
  method: string;
  result: LoginResult;
  reason: string;
  /** The client's SSH identification line. */
  client: string;
}

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

/** This server's name in events, the history and hook leases: the host name. */
export function nodeName(): string {
  return os.hostname();
}

export class Ops {
  readonly node: string;
  readonly addresses: AddressLists;
  readonly bandwidth: Bandwidth;
  readonly store: OpsStore;
  readonly hooks: HookDispatcher;
  readonly metrics: Metrics | undefined;
  private limits = new Map<string, UserLimits>();
  private readonly quotaEvents = new Map<string, number>();
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly o: OpsOptions) {
    this.node = o.node ?? nodeName();
    this.store = o.store;
    this.hooks = o.hooks;
    this.metrics = o.metrics;
    this.addresses = new AddressLists(o.store.addresses);
    this.bandwidth = new Bandwidth((user) => this.limitsOf(user));
  }

  async start(): Promise<void> {
    await this.reload();
    await this.prune();
    await this.o.hooks.start();
    const refresh = setInterval(() => {
      this.reload().catch((err: unknown) =>
        this.o.logger.warn('ops.reload_failed', { error: describeError(err) }),
      );
    }, this.o.refreshMs ?? 10_000);
    const prune = setInterval(() => void this.prune(), HOUR_MS);
    for (const t of [refresh, prune]) t.unref();
    this.timers = [refresh, prune];
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.o.hooks.stop();
  }

  /** Reads the address rules and the per-user settings again (after a console change, too). */
  async reload(): Promise<void> {
    await this.addresses.reload();
    const all = await this.o.store.userLimits.list();
    const before = this.limits;
    this.limits = new Map(all.map((l) => [l.user, l]));
    for (const user of new Set([...before.keys(), ...this.limits.keys()]))
      this.bandwidth.update(user);
  }

  private async prune(): Promise<void> {
    const before = new Date(Date.now() - this.o.config.historyDays * DAY_MS);
    try {
      const logins = await this.o.store.logins.prune(before);
      const hooks = await this.o.store.hooks.prune(before);
      if (logins + hooks > 0) this.o.logger.info('ops.pruned', { logins, hooks });
    } catch (err) {
      this.o.logger.warn('ops.prune_failed', { error: describeError(err) });
    }
  }

  limitsOf(user: string): UserLimits {
    return this.limits.get(user) ?? { user, upBps: 0, downBps: 0, maxSessions: 0 };
  }

  /** The server's maxSessionsPerUser. */
  get defaultMaxSessions(): number {
    return this.o.defaultMaxSessions;
  }

  /** Sessions `user` may have at once. */
  maxSessionsFor(user: string): number {
    return this.limitsOf(user).maxSessions || this.o.defaultMaxSessions;
  }

  /** Why the global address list turns a connection from `ip` away, or undefined. */
  connectionRefusal(ip: string): string | undefined {
    const why = this.addresses.refusal(ip);
    if (why) this.metrics?.addressRefusals.inc({ list: 'global' });
    return why;
  }

  /** Why the user's own address list turns its login from `ip` away, or undefined. */
  loginRefusal(user: string, ip: string): string | undefined {
    const why = this.addresses.userRefusal(user, ip);
    if (why) this.metrics?.addressRefusals.inc({ list: 'user' });
    return why;
  }

  /** One login attempt: counted, kept in the history, and a login.failed event when it failed. */
  loginAttempt(a: LoginAttempt): void {
    this.metrics?.logins.inc({ method: a.method, result: a.result });
    const user = clip(a.user);
    const client = clip(a.client);
    this.o.store.logins
      .add({
        at: new Date().toISOString(),
        user,
        address: a.address,
        method: a.method,
        result: a.result,
        reason: a.reason,
        client,
        node: this.node,
      })
      .catch((err: unknown) =>
        this.o.logger.warn('history.failed', { user, error: describeError(err) }),
      );
    if (a.result !== 'ok') {
      this.emit('login.failed', {
        user,
        address: a.address,
        method: a.method,
        reason: a.reason,
        client,
        refused: a.result === 'refused',
      });
    }
  }

  /** A session channel of `kind` opened; call the result when it closes. */
  sessionOpened(kind: SessionKind): () => void {
    const metrics = this.metrics;
    if (!metrics) return () => undefined;
    metrics.sessionsOpen.inc({ kind });
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      metrics.sessionsOpen.dec({ kind });
    };
  }

  forSession(user: string, address: string): SessionOps {
    const buckets = this.bandwidth.of(user);
    return new SessionOps({
      user,
      address,
      metrics: this.metrics,
      hooks: this.o.hooks,
      up: buckets.up,
      down: buckets.down,
      quotaEvents: this.quotaEvents,
      emitFailed: (event, err) => this.emitFailed(event, err),
    });
  }

  userCreated(user: string, by: string): void {
    this.emit('user.created', { user, by });
  }

  userDeleted(user: string, by: string): void {
    this.emit('user.deleted', { user, by });
  }

  private emit(event: HookEvent, fields: EventFields): void {
    this.o.hooks.emit(event, fields).catch((err: unknown) => this.emitFailed(event, err));
  }

  private emitFailed(event: string, err: unknown): void {
    this.o.logger.error('hook.not_recorded', { event, error: describeError(err) });
  }
}
