/**
 * Address lists and per-user transfer settings in the console: net allow|deny [--user USER] CIDR,
 * net del, net list; user set NAME --up --down --max-sessions.
 */
import { parseSize } from '../config/size';
import { MiniftpError } from '../errors';
import { normalizeCidr } from '../ops/address-lists';
import type { Ops } from '../ops/ops';
import type { AddressAction, UserLimits } from '../store/ops-types';
import { formatTable } from './table';
import type { AdminServices, CommandContext, CommandResult, CommandSpec } from './types';
import { existingUser } from './validate';

/** "10M" (1024-based) bytes per second; 0, "unlimited" or "none" for no limit. */
export function parseRate(text: string, option: string): number {
  if (/^(unlimited|none)$/i.test(text.trim())) return 0;
  try {
    return parseSize(text);
  } catch {
    throw MiniftpError.invalid(
      `${option} takes bytes per second like 512K, 10M or 0 for no limit (got '${text}')`,
    );
  }
}

export function rateText(bps: number): string {
  if (bps === 0) return 'no limit';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = bps;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}/s`;
}

export function limitsPairs(l: UserLimits, defaultMax: number): [string, string][] {
  return [
    ['upload limit', rateText(l.upBps)],
    ['download limit', rateText(l.downBps)],
    [
      'max sessions',
      l.maxSessions === 0 ? `${defaultMax} (server default)` : String(l.maxSessions),
    ],
  ];
}

function ruleCommand(s: AdminServices, ops: Ops, action: AddressAction): CommandSpec {
  return {
    name: `net ${action}`,
    usage: `net ${action} [--user USER] CIDR`,
    summary:
      action === 'allow'
        ? 'allow connections from a range (once any allow rule exists, only listed ranges get in)'
        : 'refuse connections from a range',
    details:
      'Without --user the rule is global, checked when a connection arrives (before any SSH\n' +
      "exchange); with --user it is that user's own, checked at login. Deny wins over allow.\n\n" +
      `  net ${action} 192.0.2.0/24\n  net ${action} --user bob 2001:db8::/32`,
    options: { user: 'value' },
    minArgs: 1,
    maxArgs: 1,
    target: (args) => args.value('user'),
    async run({ args }) {
      const user = args.value('user') ?? '';
      if (user !== '') await existingUser(s.store.users, user);
      const cidr = normalizeCidr(args.positionals[0] ?? '');
      const added = await ops.store.addresses.add({ user, action, cidr }, new Date());
      await ops.reload();
      const scope = user === '' ? 'global list' : `list of ${user}`;
      return {
        text: added
          ? `${action} ${cidr} added to the ${scope}`
          : `${action} ${cidr} is in the ${scope} already`,
        json: { user: user || null, action, cidr, added },
        log: { action, cidr },
      };
    },
  };
}

async function listRules(ops: Ops): Promise<CommandResult> {
  const rules = await ops.store.addresses.list();
  const text =
    rules.length === 0
      ? 'no address rules: every address may connect'
      : formatTable(
          [{ header: 'SCOPE' }, { header: 'ACTION' }, { header: 'RANGE' }, { header: 'ADDED' }],
          rules.map((r) => [r.user || '(global)', r.action, r.cidr, r.addedAt.slice(0, 10)]),
        );
  return { text, json: rules.map((r) => ({ ...r, user: r.user || null })) };
}

export function netCommands(s: AdminServices, ops: Ops): CommandSpec[] {
  return [
    ruleCommand(s, ops, 'allow'),
    ruleCommand(s, ops, 'deny'),
    {
      name: 'net del',
      aliases: ['net rm'],
      usage: 'net del allow|deny [--user USER] CIDR',
      summary: 'remove an address rule',
      options: { user: 'value' },
      minArgs: 2,
      maxArgs: 2,
      target: (args) => args.value('user'),
      async run({ args }) {
        const action = args.positionals[0];
        if (action !== 'allow' && action !== 'deny')
          throw MiniftpError.invalid('usage: net del allow|deny [--user USER] CIDR');
        const user = args.value('user') ?? '';
        const cidr = normalizeCidr(args.positionals[1] ?? '');
        if (!(await ops.store.addresses.remove({ user, action, cidr })))
          throw MiniftpError.notFound(
            `no rule ${action} ${cidr} in the ${user ? `list of ${user}` : 'global list'}`,
          );
        await ops.reload();
        return {
          text: `${action} ${cidr} removed`,
          json: { user: user || null, action, cidr, removed: true },
        };
      },
    },
    {
      name: 'net list',
      aliases: ['net'],
      usage: 'net list [--json]',
      summary: 'the address rules, global and per user',
      maxArgs: 0,
      run: () => listRules(ops),
    },
    {
      name: 'user set',
      usage: 'user set NAME [--up RATE] [--down RATE] [--max-sessions N]',
      summary:
        "a user's bandwidth limits (bytes per second, over all its sessions) and session cap",
      details:
        'RATE is bytes per second, like 512K or 10M (1024-based); 0 removes the limit. The limits\n' +
        "apply at once, also to open sessions. --max-sessions 0 returns to the server's default.\n\n" +
        '  user set bob --up 10M --down 20M\n  user set bob --max-sessions 2',
      options: { up: 'value', down: 'value', 'max-sessions': 'value' },
      minArgs: 1,
      maxArgs: 1,
      async run({ args }: CommandContext) {
        const name = args.positionals[0] ?? '';
        await existingUser(s.store.users, name);
        const before = await ops.store.userLimits.get(name);
        const up = args.value('up');
        const down = args.value('down');
        const max = args.value('max-sessions');
        if (up === undefined && down === undefined && max === undefined)
          throw MiniftpError.invalid('user set needs --up, --down or --max-sessions');
        const sessions = max === undefined ? before.maxSessions : Number(max);
        if (!Number.isInteger(sessions) || sessions < 0 || sessions > 100000)
          throw MiniftpError.invalid('--max-sessions takes a whole number (0: the server default)');
        const next: UserLimits = {
          user: name,
          upBps: up === undefined ? before.upBps : parseRate(up, '--up'),
          downBps: down === undefined ? before.downBps : parseRate(down, '--down'),
          maxSessions: sessions,
        };
        await ops.store.userLimits.set(next);
        await ops.reload();
        const pairs = limitsPairs(next, ops.defaultMaxSessions);
        return {
          text: `user '${name}': ${pairs.map(([k, v]) => `${k} ${v}`).join(', ')}`,
          json: next,
          log: { up_bps: next.upBps, down_bps: next.downBps, max_sessions: next.maxSessions },
        };
      },
    },
  ];
}
