/** Event hooks in the console: hooks list [--failed], hooks retry ID. */
import { MiniftpError } from '../errors';
import type { Ops } from '../ops/ops';
import type { HookRow } from '../store/ops-types';
import { formatTable } from './table';
import type { CommandSpec } from './types';

function hookJson(r: HookRow): Record<string, unknown> {
  return {
    id: r.id,
    event: r.event,
    state: r.state,
    attempts: r.attempts,
    createdAt: r.createdAt,
    nextAttemptAt: r.state === 'pending' ? new Date(r.nextAt).toISOString() : null,
    deliveredAt: r.deliveredAt,
    lastError: r.lastError,
    claimedBy: r.claimedBy,
    payload: JSON.parse(r.payload) as unknown,
  };
}

export function hookCommands(ops: Ops): CommandSpec[] {
  return [
    {
      name: 'hooks list',
      aliases: ['hooks'],
      usage: 'hooks list [--failed] [--pending] [--limit N] [--json]',
      summary: 'event hook deliveries, newest first: pending, delivered, failed',
      details:
        'Failed events used up their attempts (hookMaxAttempts); `hooks retry ID` sends one again.\n\n' +
        '  hooks list --failed\n  hooks list --json --limit 5',
      options: { failed: 'switch', pending: 'switch', limit: 'value' },
      maxArgs: 0,
      async run({ args }) {
        const limit = Number(args.value('limit') ?? 50);
        if (!Number.isInteger(limit) || limit < 1 || limit > 10000)
          throw MiniftpError.invalid('--limit must be a whole number from 1 to 10000');
        const state = args.has('failed') ? 'failed' : args.has('pending') ? 'pending' : undefined;
        const rows = await ops.store.hooks.list({ state, limit });
        const text =
          rows.length === 0
            ? 'no hook events'
            : formatTable(
                [
                  { header: 'ID', align: 'right' },
                  { header: 'EVENT' },
                  { header: 'STATE' },
                  { header: 'TRIES', align: 'right' },
                  { header: 'CREATED' },
                  { header: 'LAST ERROR' },
                ],
                rows.map((r) => [
                  String(r.id),
                  r.event,
                  r.state,
                  String(r.attempts),
                  r.createdAt.slice(0, 19).replace('T', ' '),
                  r.lastError ?? '',
                ]),
              );
        return { text, json: rows.map(hookJson) };
      },
    },
    {
      name: 'hooks retry',
      usage: 'hooks retry ID',
      summary: 'deliver a failed (or waiting) event again now, with its attempts reset',
      minArgs: 1,
      maxArgs: 1,
      async run({ args }) {
        const id = Number(args.positionals[0]);
        if (!Number.isSafeInteger(id) || id < 1) throw MiniftpError.invalid('ID must be a number');
        if (!(await ops.store.hooks.retry(id, Date.now()))) {
          const row = await ops.store.hooks.get(id);
          throw row
            ? MiniftpError.invalid(`event ${id} was delivered already`)
            : MiniftpError.notFound(`no hook event ${id}`);
        }
        ops.hooks.kick();
        return { text: `event ${id} queued for delivery`, json: { id, state: 'pending' } };
      },
    },
  ];
}
