/**
 * The `ops` section of the schema: the metrics listener, event hooks and the login history. Its reader is here too, so that load.ts names the section in one line.
 */
import type { SchemaOf } from './formats';
import type { Config } from './types';

export function opsSchema(): SchemaOf<Config['ops']> {
  return {
    metricsListen: {
      doc: 'host:port of the HTTP listener that serves Prometheus metrics at /metrics (e.g. 127.0.0.1:9808; [::1]:9808); port 0 picks a free one, logged as metrics.listening. Empty: no metrics listener.',
      format: 'listen',
      default: '',
      env: 'MINIFTP_OPS_METRICS_LISTEN',
      arg: 'metrics-listen',
    },
    metricsUserLabels: {
      doc: 'Most user names that get a label value of their own in the per-user byte counters; the traffic of further users is counted under user="other".',
      format: 'count',
      default: 100,
      min: 1,
      max: 100000,
      env: 'MINIFTP_OPS_METRICS_USER_LABELS',
      arg: 'metrics-user-labels',
    },
    hookCommand: {
      doc: 'Command run for each event, without a shell (words split as a shell would: quotes work, $ and | do not); the event arrives as one JSON object on its standard input, exit status 0 means delivered. Empty: none.',
      format: 'text',
      default: '',
      allowEmpty: true,
      env: 'MINIFTP_OPS_HOOK_COMMAND',
      arg: 'hook-command',
    },
    hookUrl: {
      doc: 'http:// or https:// URL each event is POSTed to as JSON; a 2xx answer means delivered. Empty: none.',
      format: 'url',
      default: '',
      env: 'MINIFTP_OPS_HOOK_URL',
      arg: 'hook-url',
      sensitive: true,
    },
    hookSecret: {
      doc: 'Key of the HMAC-SHA256 of each POSTed body, sent as X-MiniFTP-Signature: sha256=<hex>. Empty: no signature.',
      format: 'text',
      default: '',
      allowEmpty: true,
      env: 'MINIFTP_OPS_HOOK_SECRET',
      arg: 'hook-secret',
      sensitive: true,
    },
    hookTimeout: {
      doc: 'Seconds a hook command or POST may take before the attempt counts as failed (the command is killed).',
      format: 'count',
      default: 30,
      min: 1,
      max: 3600,
      env: 'MINIFTP_OPS_HOOK_TIMEOUT',
      arg: 'hook-timeout',
    },
    hookRetryDelay: {
      doc: 'Milliseconds before the first retry of a failed delivery; each further retry waits twice as long, at most an hour.',
      format: 'count',
      default: 5000,
      min: 1,
      max: 3600000,
      env: 'MINIFTP_OPS_HOOK_RETRY_DELAY',
      arg: 'hook-retry-delay',
    },
    hookMaxAttempts: {
      doc: 'Delivery attempts of one event before it is kept as failed for the admin (hooks list --failed, hooks retry ID).',
      format: 'count',
      default: 10,
      min: 1,
      max: 1000,
      env: 'MINIFTP_OPS_HOOK_MAX_ATTEMPTS',
      arg: 'hook-max-attempts',
    },
    hookLease: {
      doc: 'Seconds a node holds the events it claimed for delivery; if it dies, another node (or this one after a restart) takes them over once the lease ends. Longer than hookTimeout.',
      format: 'count',
      default: 120,
      min: 2,
      max: 86400,
      env: 'MINIFTP_OPS_HOOK_LEASE',
      arg: 'hook-lease',
    },
    historyDays: {
      doc: 'Days the login history and delivered hook events are kept; older rows are removed hourly.',
      format: 'count',
      default: 90,
      min: 1,
      max: 36500,
      env: 'MINIFTP_OPS_HISTORY_DAYS',
      arg: 'history-days',
    },
  };
}

/** The typed `ops` section from convict's checked values. */
export function readOps(
  text: (key: string) => string,
  num: (key: string) => number,
): Config['ops'] {
  return {
    metricsListen: text('ops.metricsListen'),
    metricsUserLabels: num('ops.metricsUserLabels'),
    hookCommand: text('ops.hookCommand'),
    hookUrl: text('ops.hookUrl'),
    hookSecret: text('ops.hookSecret'),
    hookTimeout: num('ops.hookTimeout'),
    hookRetryDelay: num('ops.hookRetryDelay'),
    hookMaxAttempts: num('ops.hookMaxAttempts'),
    hookLease: num('ops.hookLease'),
    historyDays: num('ops.historyDays'),
  };
}
