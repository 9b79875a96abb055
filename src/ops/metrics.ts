/**
 * The server's Prometheus metrics (prom-client), one registry per process. Names start with
 * miniftp_; process and Node.js metrics come from prom-client's default collectors.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type SessionKind = 'sftp' | 'admin' | 'exec';
export type Direction = 'in' | 'out';

/** The label value of user names past the cap. */
export const OTHER_USERS = 'other';

export interface MetricsOptions {
  /** Users that get a label value of their own; the rest are counted as "other". */
  maxUserLabels: number;
  /** Reads the number of addresses banned right now, at scrape time. */
  bansActive?: () => number;
}

export class Metrics {
  readonly registry = new Registry();
  readonly sessionsOpen: Gauge<'kind'>;
  readonly logins: Counter<'method' | 'result'>;
  readonly bytes: Counter<'user' | 'direction'>;
  readonly files: Counter<'direction'>;
  readonly quotaRefusals: Counter;
  readonly resumes: Counter<'result'>;
  readonly requestSeconds: Histogram<'type'>;
  readonly storeSeconds: Histogram<'op'>;
  readonly throttledSeconds: Counter<'direction'>;
  readonly hookDeliveries: Counter<'result'>;
  readonly addressRefusals: Counter<'list'>;
  private readonly labelled = new Set<string>();

  constructor(private readonly o: MetricsOptions) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.sessionsOpen = new Gauge({
      name: 'miniftp_sessions_open',
      help: 'Session channels open now, by kind (sftp, admin console, user exec).',
      labelNames: ['kind'],
      registers,
    });
    for (const kind of ['sftp', 'admin', 'exec']) this.sessionsOpen.set({ kind }, 0);
    this.logins = new Counter({
      name: 'miniftp_logins_total',
      help: 'Login attempts by method and result (ok, failed, refused).',
      labelNames: ['method', 'result'],
      registers,
    });
    this.bytes = new Counter({
      name: 'miniftp_transfer_bytes_total',
      help: 'File bytes received (in) and sent (out) over SFTP, by user (past the cap: user="other").',
      labelNames: ['user', 'direction'],
      registers,
    });
    this.files = new Counter({
      name: 'miniftp_files_total',
      help: 'Files uploaded (in: closed after writing) and downloaded (out: closed after reading).',
      labelNames: ['direction'],
      registers,
    });
    this.quotaRefusals = new Counter({
      name: 'miniftp_quota_refusals_total',
      help: 'Requests refused because a quota was full.',
      registers,
    });
    this.resumes = new Counter({
      name: 'miniftp_resumes_total',
      help: 'resume-upload@miniftp requests by result (accepted, refused).',
      labelNames: ['result'],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: 'miniftp_sftp_request_seconds',
      help: 'Time from an SFTP request being read to its reply being ready, by request type.',
      labelNames: ['type'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.storeSeconds = new Histogram({
      name: 'miniftp_store_seconds',
      help: 'Time of store calls, by table and method.',
      labelNames: ['op'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
      registers,
    });
    this.throttledSeconds = new Counter({
      name: 'miniftp_throttled_seconds_total',
      help: 'Time transfers were held back by per-user bandwidth limits (summed over sessions).',
      labelNames: ['direction'],
      registers,
    });
    this.hookDeliveries = new Counter({
      name: 'miniftp_hook_deliveries_total',
      help: 'Event hook delivery attempts by result (ok, failed, gave_up).',
      labelNames: ['result'],
      registers,
    });
    this.addressRefusals = new Counter({
      name: 'miniftp_address_refusals_total',
      help: 'Connections (list="global") and logins (list="user") refused by the address lists.',
      labelNames: ['list'],
      registers,
    });
    const bans = o.bansActive;
    new Gauge({
      name: 'miniftp_bans_active',
      help: 'Addresses banned now after failed logins.',
      registers,
      collect() {
        this.set(bans ? bans() : 0);
      },
    });
  }

  /** The label value for `user`: the name itself while under the cap, else "other". */
  userLabel(user: string): string {
    if (this.labelled.has(user)) return user;
    if (this.labelled.size >= this.o.maxUserLabels) return OTHER_USERS;
    this.labelled.add(user);
    return user;
  }

  transferred(user: string, bytesIn: number, bytesOut: number): void {
    const label = this.userLabel(user);
    if (bytesIn > 0) this.bytes.inc({ user: label, direction: 'in' }, bytesIn);
    if (bytesOut > 0) this.bytes.inc({ user: label, direction: 'out' }, bytesOut);
  }
}
