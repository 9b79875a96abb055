/**
 * This process's part in a cluster (several worker processes of one node, or
 * several nodes on one PostgreSQL store): it keeps the node's row and
 * heartbeat and its own sessions in the store, removes nodes whose heartbeat
 * lapsed, passes kicks, account and quota changes and login failures to the
 * other processes over the bus and applies theirs; and it is the console's
 * view of every node's sessions (`sessions`, `kick`, `user disable` …) and of
 * the nodes (`nodes`).
 */
import type { LiveConnections, LiveNodes, NodeView, SessionView } from '../admin/console-host';
import type { LoginThrottle } from '../auth/throttle';
import { describeError } from '../errors';
import type { Logger } from '../log/types';
import type { QuotaLedger } from '../quota/quota-ledger';
import type { ClusterBus, ClusterStore, SessionRecord } from '../store/cluster-types';
import type { ConnectionInfo, ConnectionRegistry } from '../ssh/connections';
import { clip } from '../util/clip';
import { type BusMessage, decode, encode } from './cluster-bus';
import { viewOf } from './local-sessions';

export interface ClusterNodeOptions {
  readonly node: string;
  /** This process's worker slot; undefined for a node of one process. */
  readonly worker: number | undefined;
  /** The node's leading process (the primary, or this one). */
  readonly leaderPid: number;
  readonly workers: number;
  readonly version: string;
  readonly store: ClusterStore;
  readonly bus: ClusterBus;
  readonly registry: ConnectionRegistry;
  readonly throttle: LoginThrottle;
  readonly quota: QuotaLedger;
  readonly logger: Logger;
  readonly adminName: string;
  readonly heartbeatMs: number;
  /** A node without a heartbeat for this long is taken for dead. */
  readonly timeoutMs: number;
  /** How long a kick of a session on another process waits for it to end (ms). */
  readonly kickWaitMs?: number;
}

/** How often a kick looks whether the session it asked another process to end is gone. */
const KICK_POLL_MS = 50;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, but another user's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class ClusterNode implements LiveConnections {
  readonly clustered = true;
  private readonly me: string;
  private readonly startedAt = new Date();
  private timer: NodeJS.Timeout | undefined;
  /** Store writes of this process, one after the other (a session's removal after its addition). */
  private queue: Promise<void> = Promise.resolve();
  private readonly sentBytes = new Map<string, number>();
  private stopped = false;

  constructor(private readonly o: ClusterNodeOptions) {
    this.me = `${o.node}:${process.pid}`;
  }

  async start(): Promise<void> {
    await this.beat();
    this.o.registry.watch({
      loggedIn: (info) => this.enqueue(() => this.o.store.addSession(this.record(info))),
      closed: (info) => {
        this.sentBytes.delete(info.id);
        this.enqueue(() => this.o.store.removeSession(this.o.node, info.id));
      },
    });
    this.o.throttle.onRecord((event) => this.publish({ t: 'login', event }));
    this.o.bus.subscribe((text) => this.receive(text));
    this.timer = setInterval(() => this.enqueue(() => this.beat()), this.o.heartbeatMs);
    this.timer.unref();
  }

  /** Stops the heartbeat and takes this process's sessions (and a lone process's node) out of the store. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.queue;
    try {
      await this.o.store.removeProcess(this.o.node, process.pid);
      // The first worker speaks for the node: the primary stops all of them at once.
      if (this.o.worker === undefined || this.o.worker === 1) {
        await this.o.store.removeNode(this.o.node);
      }
    } catch (err) {
      this.o.logger.warn('cluster.error', { step: 'stop', error: describeError(err) });
    }
    await this.o.bus.close();
  }

  // ---- LiveConnections: the console's view of every node's sessions ----

  async list(): Promise<SessionView[]> {
    const [rows, nodes] = await Promise.all([this.o.store.sessions(), this.nodesList()]);
    // As `nodes` shows them: the sessions of a node whose heartbeat lapsed are gone with it,
    // before the sweep removes its rows.
    const live = new Set([this.o.node, ...nodes.map((n) => n.name)]);
    const views = new Map<string, SessionView>();
    for (const r of rows) if (live.has(r.node)) views.set(r.id, this.viewOfRecord(r));
    // This process's own connections as they are now: those still logging in,
    // and a login whose row is not written yet.
    for (const c of this.o.registry.list()) views.set(c.id, this.viewOfLocal(c));
    return [...views.values()];
  }

  async kick(id: string, reason: string): Promise<SessionView | undefined> {
    const local = this.o.registry.get(id);
    if (local) {
      local.kill(reason);
      return this.viewOfLocal(local);
    }
    const row = (await this.o.store.sessions()).find((r) => r.id === id);
    if (!row) return undefined;
    await this.publish({ t: 'kick', id, reason });
    await this.waitGone(id);
    return this.viewOfRecord(row);
  }

  async killUser(user: string, reason: string): Promise<number> {
    const rows = await this.o.store.sessions();
    const local = this.o.registry.killUser(user, reason);
    const remote = rows.filter(
      (r) => r.user === user && !(r.node === this.o.node && r.pid === process.pid),
    ).length;
    await this.publish({ t: 'kill-user', user, reason });
    return local + remote;
  }

  async changed(user: string, what: 'quota' | 'deleted'): Promise<void> {
    await this.publish(what === 'quota' ? { t: 'quota', user } : { t: 'deleted', user });
  }

  // ---- LiveNodes ----

  async nodesList(): Promise<NodeView[]> {
    const cutoff = Date.now() - this.o.timeoutMs;
    const nodes = await this.o.store.nodes();
    return nodes
      .filter((n) => new Date(n.heartbeatAt).getTime() >= cutoff)
      .map((n) => ({
        name: n.name,
        pid: n.pid,
        workers: n.workers,
        version: n.version,
        startedAt: new Date(n.startedAt),
        heartbeatAt: new Date(n.heartbeatAt),
        sessions: n.sessions,
        current: n.name === this.o.node,
      }));
  }

  /** `LiveNodes` for the console (a separate object: `list` is taken by the sessions). */
  readonly nodes: LiveNodes = { list: () => this.nodesList() };

  // ---- inside ----

  private enqueue(step: () => Promise<unknown>): void {
    this.queue = this.queue.then(
      () => step().then(() => undefined),
      () => undefined,
    );
    this.queue = this.queue.catch((err: unknown) => {
      this.o.logger.warn('cluster.error', { error: describeError(err) });
    });
  }

  private async publish(m: BusMessage): Promise<void> {
    try {
      await this.o.bus.publish(encode({ from: this.me, m }));
    } catch (err) {
      this.o.logger.warn('cluster.error', { step: 'publish', error: describeError(err) });
    }
  }

  private receive(text: string): void {
    const envelope = decode(text);
    if (!envelope) {
      this.o.logger.warn('cluster.bad_message', { length: text.length });
      return;
    }
    if (envelope.from === this.me) return;
    const m = envelope.m;
    switch (m.t) {
      case 'kick':
        this.o.registry.get(m.id)?.kill(m.reason);
        return;
      case 'kill-user':
        this.o.registry.killUser(m.user, m.reason);
        return;
      case 'quota':
        this.o.quota.refreshLimits(m.user).catch((err: unknown) => {
          this.o.logger.warn('cluster.error', { step: 'quota', error: describeError(err) });
        });
        return;
      case 'deleted':
        this.o.quota.drop(m.user);
        return;
      case 'login': {
        // Counted here as if it had happened here: the ban (or lock) comes on every process.
        const { banned, locked } = this.o.throttle.apply(m.event);
        const after = { after: envelope.from };
        if (locked && m.event.kind === 'failure') {
          this.o.logger.warn('account.locked', { user: clip(m.event.account ?? ''), ...after });
        }
        if (banned) this.o.logger.warn('ip.banned', { ip: m.event.ip, ...after });
        return;
      }
    }
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    const now = new Date();
    await this.o.store.beat(
      {
        name: this.o.node,
        pid: this.o.leaderPid,
        workers: this.o.workers,
        version: this.o.version,
        startedAt: this.startedAt.toISOString(),
      },
      now,
    );
    for (const c of this.o.registry.list()) {
      if (c.user === undefined || !c.bytes) continue;
      const bytes = c.bytes();
      if (this.sentBytes.get(c.id) === bytes) continue;
      this.sentBytes.set(c.id, bytes);
      await this.o.store.setBytes(this.o.node, c.id, bytes);
    }
    const gone = await this.o.store.sweep(new Date(now.getTime() - this.o.timeoutMs));
    for (const name of gone) this.o.logger.warn('cluster.node_lost', { node: name });
    const pids = await this.o.store.processes(this.o.node);
    // Taken for dead while it was only slow (a long pause): its sessions are listed again.
    const mine = this.o.registry.list().filter((c) => c.user !== undefined);
    if (mine.length > 0 && !pids.includes(process.pid)) {
      for (const c of mine) await this.o.store.addSession(this.record(c));
      this.o.logger.warn('cluster.sessions_restored', { sessions: mine.length });
    }
    // A worker that died left its sessions behind: the processes of this node are on this machine.
    for (const pid of pids) {
      if (pid !== process.pid && !isAlive(pid)) {
        await this.o.store.removeProcess(this.o.node, pid);
        this.o.logger.info('cluster.process_gone', { pid });
      }
    }
  }

  private async waitGone(id: string): Promise<void> {
    const deadline = Date.now() + (this.o.kickWaitMs ?? 3000);
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, KICK_POLL_MS));
      const rows = await this.o.store.sessions();
      if (!rows.some((r) => r.id === id)) return;
    }
  }

  private record(info: ConnectionInfo): SessionRecord {
    const user = info.user ?? '';
    return {
      node: this.o.node,
      id: info.id,
      pid: process.pid,
      worker: this.o.worker ?? null,
      user,
      ip: info.ip,
      port: info.port,
      kind: user === this.o.adminName ? 'console' : 'sftp',
      method: info.method ?? '',
      client: clip(info.clientIdent ?? '', 200),
      startedAt: info.since.toISOString(),
      bytes: info.bytes?.() ?? 0,
    };
  }

  private viewOfLocal(c: ConnectionInfo): SessionView {
    return { ...viewOf(c), node: this.o.node, pid: process.pid, worker: this.o.worker };
  }

  private viewOfRecord(r: SessionRecord): SessionView {
    return {
      id: r.id,
      node: r.node,
      pid: r.pid,
      worker: r.worker ?? undefined,
      ip: r.ip,
      port: r.port,
      since: new Date(r.startedAt),
      clientIdent: r.client === '' ? undefined : r.client,
      user: r.user,
      method: r.method === '' ? undefined : r.method,
      bytes: r.bytes,
    };
  }
}
