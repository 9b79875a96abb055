/** The login history in the console: history [USER] [--since 2d] [--failed]. */
import ms from 'ms';
import { MiniftpError } from '../errors';
import type { Ops } from '../ops/ops';
import type { LoginRecord } from '../store/ops-types';
import { limitsPairs } from './net-commands';
import { formatTable } from './table';
import type { CommandSpec } from './types';

/** "2d", "12h", "30m" before now, or an ISO date. */
export function parseSince(text: string, now = Date.now()): Date {
  const span = /^\d/.test(text) && !/^\d{4}-/.test(text) ? ms(text as ms.StringValue) : undefined;
  if (typeof span === 'number' && span >= 0) return new Date(now - span);
  const at = /^\d{4}-\d\d-\d\d/.test(text) ? new Date(text) : undefined;
  if (at && !Number.isNaN(at.getTime())) return at;
  throw MiniftpError.invalid(
    `--since takes a span like 2d, 12h, 30m or a date like 2026-01-31 (got '${text}')`,
  );
}

/** The table of login records, newest first. */
export function historyTable(rows: readonly LoginRecord[]): string {
  if (rows.length === 0) return 'no logins recorded';
  return formatTable(
    [
      { header: 'TIME' },
      { header: 'USER' },
      { header: 'ADDRESS' },
      { header: 'METHOD' },
      { header: 'RESULT' },
      { header: 'CLIENT' },
      { header: 'NODE' },
      { header: 'REASON' },
    ],
    rows.map((r) => [
      r.at.slice(0, 19).replace('T', ' '),
      r.user,
      r.address,
      r.method,
      r.result,
      r.client,
      r.node,
      r.reason,
    ]),
  );
}

export function historyCommands(ops: Ops): CommandSpec[] {
  return [
    {
      name: 'history',
      usage: 'history [USER] [--since 2d] [--failed] [--limit N] [--json]',
      summary: 'login attempts: who, from where, how, with which client, and the outcome',
      details:
        'Kept for historyDays days. --failed shows failed and refused attempts only.\n\n' +
        '  history bob --since 2d\n  history --failed --since 1h',
      options: { since: 'value', failed: 'switch', limit: 'value' },
      maxArgs: 1,
      async run({ args }) {
        const limit = Number(args.value('limit') ?? 100);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100000)
          throw MiniftpError.invalid('--limit must be a whole number from 1 to 100000');
        const since = args.value('since');
        const rows = await ops.store.logins.query({
          user: args.positionals[0],
          since: since === undefined ? undefined : parseSince(since),
          failedOnly: args.has('failed'),
          limit,
        });
        return { text: historyTable(rows), json: rows };
      },
    },
  ];
}

/** What `user show` adds: the transfer settings and the last 10 logins. */
export async function opsView(
  ops: Ops,
  user: string,
): Promise<{ pairs: [string, string][]; table: string; json: Record<string, unknown> }> {
  const limits = await ops.store.userLimits.get(user);
  const logins = await ops.store.logins.query({ user, limit: 10 });
  return {
    pairs: limitsPairs(limits, ops.defaultMaxSessions),
    table: historyTable(logins),
    json: {
      upBps: limits.upBps,
      downBps: limits.downBps,
      maxSessions: limits.maxSessions,
      lastLogins: logins,
    },
  };
}
