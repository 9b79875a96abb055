/**
 * The cluster bus over PostgreSQL: LISTEN on one channel on a connection of
 * its own, NOTIFY through the store's pool. Every process on the database
 * (the sender too; the messages say who sent them) gets each message once, in
 * the order they were committed. A connection that breaks is opened again
 * after a pause; messages sent meanwhile do not reach this process.
 */
import pg from 'pg';
import { describeError } from '../../errors';
import type { Sql } from '../engine/sql';

/** The channel's name (an identifier: no quoting needed). */
export const BUS_CHANNEL = 'miniftp_cluster';
/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more. */
const MAX_PAYLOAD = 7900;
const RECONNECT_MS = 1000;

export interface PgBusOptions {
  readonly url: string;
  /** Statements go through the store's pool. */
  readonly sql: Sql;
  /** The listening connection broke or could not be opened (the reason, without the URL). */
  readonly onError: (error: string) => void;
}

/** A `ClusterBus` (../cluster-types.ts), named there only: this folder imports nothing above it. */
export class PgBus {
  private client: pg.Client | undefined;
  private readonly listeners: Array<(text: string) => void> = [];
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  private constructor(private readonly o: PgBusOptions) {}

  /** Listening before it resolves: nothing sent after that is missed. */
  static async open(o: PgBusOptions): Promise<PgBus> {
    const bus = new PgBus(o);
    await bus.connect();
    return bus;
  }

  async publish(text: string): Promise<void> {
    if (Buffer.byteLength(text) > MAX_PAYLOAD) {
      throw new Error(`a cluster message of ${Buffer.byteLength(text)} bytes is too long`);
    }
    await this.o.sql.get(`SELECT pg_notify('${BUS_CHANNEL}', $1)`, [text]);
  }

  subscribe(listener: (text: string) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.o.url, application_name: 'miniftp-bus' });
    client.on('notification', (n) => {
      if (n.channel !== BUS_CHANNEL || n.payload === undefined) return;
      for (const l of this.listeners) l(n.payload);
    });
    const lost = (err?: Error): void => {
      if (this.client !== client) return;
      this.client = undefined;
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.o.onError(err ? describeError(err) : 'the connection ended');
      this.later();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    await client.connect();
    await client.query(`LISTEN ${BUS_CHANNEL}`);
    this.client = client;
  }

  private later(): void {
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.connect().catch((err: unknown) => {
        this.o.onError(describeError(err));
        if (!this.closed) this.later();
      });
    }, RECONNECT_MS);
    this.retry.unref();
  }
}
