/**
 * Event hooks, delivered at least once. An event is first written to the outbox table; the
 * dispatcher claims due events with a lease (so that with several nodes one node delivers each),
 * delivers them, marks them delivered, or schedules a retry with exponential backoff, and keeps
 * an event that used up its attempts as failed for the admin (`hooks list --failed`, `hooks retry`).
 * An event written before a crash is delivered after the restart: the node gives up its own
 * leases when it starts, and other nodes take over once the lease has run out.
 */
import { describeError } from '../errors';
import type { Logger } from '../log/types';
import type { HookOutbox, HookRow } from '../store/ops-types';
import { deliver, type DeliveryTargets } from './hook-delivery';
import type { Metrics } from './metrics';

export const HOOK_EVENTS = [
  'upload.completed',
  'upload.resumed',
  'download.completed',
  'login.failed',
  'quota.exceeded',
  'user.created',
  'user.deleted',
] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

export type EventFields = Record<string, string | number | boolean | null>;

/** Longest wait between two retries. */
const MAX_BACKOFF_MS = 60 * 60 * 1000;
/** Events claimed at once. */
const BATCH = 8;

export interface HookDispatcherOptions {
  outbox: HookOutbox;
  node: string;
  targets: DeliveryTargets;
  retryDelayMs: number;
  maxAttempts: number;
  leaseMs: number;
  logger: Logger;
  metrics?: Metrics;
  /**
   * Completes an event's fields before its first attempt (the digests of an upload, read after
   * its CLOSE); the result is stored, so retries send the same.
   */
  complete?: (event: string, fields: EventFields) => Promise<EventFields | undefined>;
  /** How often the outbox is looked at for due retries and other nodes' events; ms. */
  pollMs?: number;
  now?: () => number;
}

/** The delay before attempt `attempts + 1`, after `attempts` failed ones. */
export function backoff(retryDelayMs: number, attempts: number): number {
  return Math.min(MAX_BACKOFF_MS, retryDelayMs * 2 ** Math.max(0, attempts - 1));
}

export class HookDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private readonly now: () => number;
  private readonly pollMs: number;

  constructor(private readonly o: HookDispatcherOptions) {
    this.now = o.now ?? Date.now;
    this.pollMs = o.pollMs ?? Math.max(10, Math.min(1000, o.retryDelayMs));
  }

  /** Whether any target is configured: without one, no event is written. */
  get enabled(): boolean {
    return this.o.targets.command.length > 0 || this.o.targets.url !== '';
  }

  /**
   * Writes an event to the outbox; resolves once it is stored (the at-least-once promise starts
   * there), with its id. Nothing is written when no target is configured.
   */
  async emit(event: HookEvent, fields: EventFields): Promise<number | undefined> {
    if (!this.enabled) return undefined;
    const at = new Date(this.now());
    const payload = JSON.stringify({ event, time: at.toISOString(), node: this.o.node, ...fields });
    const id = await this.o.outbox.add(event, payload, at);
    this.kick();
    return id;
  }

  /** Starts delivering: this node's old leases are ended first (it holds nothing after a restart). */
  async start(): Promise<void> {
    if (!this.enabled) return;
    await this.o.outbox.release(this.o.node);
    this.stopped = false;
    this.kick();
  }

  /** Looks at the outbox now (an event was added, or the admin asked for a retry). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.pass()
      .catch((err: unknown) => this.o.logger.warn('hook.error', { error: describeError(err) }))
      .finally(() => {
        this.running = undefined;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.kick();
        } else {
          this.timer = setTimeout(() => this.kick(), this.pollMs);
          this.timer.unref();
        }
      });
  }

  /** Stops after the attempts in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async pass(): Promise<void> {
    for (;;) {
      const rows = await this.o.outbox.claim(this.o.node, this.now(), this.o.leaseMs, BATCH);
      for (const row of rows) {
        if (this.stopped) return;
        await this.attempt(row);
      }
      if (rows.length < BATCH || this.stopped) return;
    }
  }

  private async attempt(row: HookRow): Promise<void> {
    const { logger, outbox, node } = this.o;
    try {
      let fields = JSON.parse(row.payload) as EventFields;
      if (this.o.complete && row.attempts === 0) {
        const completed = await this.o.complete(row.event, fields);
        if (completed) {
          fields = completed;
          await outbox.setPayload(row.id, node, JSON.stringify(fields));
        }
      }
      const body = JSON.stringify({ id: row.id, ...publicFields(fields) });
      await deliver(this.o.targets, row.event, row.id, body);
      await outbox.delivered(row.id, node, new Date(this.now()));
      this.o.metrics?.hookDeliveries.inc({ result: 'ok' });
      logger.info('hook.delivered', { id: row.id, event: row.event, attempts: row.attempts + 1 });
    } catch (err) {
      const attempts = row.attempts + 1;
      const giveUp = attempts >= this.o.maxAttempts;
      const error = describeError(err);
      const nextAt = this.now() + backoff(this.o.retryDelayMs, attempts);
      await outbox.attemptFailed(row.id, node, error, nextAt, giveUp);
      this.o.metrics?.hookDeliveries.inc({ result: giveUp ? 'gave_up' : 'failed' });
      logger.warn(giveUp ? 'hook.gave_up' : 'hook.failed', {
        id: row.id,
        event: row.event,
        attempts,
        error,
      });
    }
  }
}

/** The fields a receiver sees: those starting with "_" are the server's own. */
function publicFields(fields: EventFields): EventFields {
  return Object.fromEntries(Object.entries(fields).filter(([k]) => !k.startsWith('_')));
}
