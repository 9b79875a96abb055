/** Live connection commands: sessions, kick, drain. */
import { MiniftpError } from '../errors';
import { parseDuration } from '../util/duration';
import { formatTable } from './table';
import type { AdminServices, CommandSpec } from './types';
import { when } from './views';

export function sessionCommands(s: AdminServices): CommandSpec[] {
  return [
    {
      name: 'sessions',
      usage: 'sessions [--json]',
      summary: 'live connections: id, user, address, since when, client software',
      maxArgs: 0,
      async run({ actor, io }) {
        const live = s.connections.list();
        const rows = live.map((c) => ({
          id: c.id,
          user: c.user ?? null,
          ip: c.ip,
          port: c.port,
          since: c.since.toISOString(),
          method: c.method ?? null,
          client: c.clientIdent ?? null,
          current: c.id === actor.session,
        }));
        const text = formatTable(
          [
            { header: 'ID' },
            { header: 'USER', cutOrder: 2 },
            { header: 'FROM' },
            { header: 'SINCE' },
            { header: 'AUTH' },
            // At a narrow terminal the client software is cut first, then the user name.
            { header: 'CLIENT', cutOrder: 1 },
          ],
          rows.map((r) => [
            r.id,
            r.user === null ? '(logging in)' : r.current ? `${r.user} (you)` : r.user,
            `${r.ip}:${r.port}`,
            when(r.since),
            r.method ?? '-',
            r.client?.replace(/^SSH-2\.0-/, '') ?? '',
          ]),
          { maxWidth: io.columns },
        );
        return { text, json: rows };
      },
    },
    {
      name: 'kick',
      usage: 'kick SESSION-ID',
      summary: 'end a live connection (ids as `sessions` shows them)',
      minArgs: 1,
      maxArgs: 1,
      target: () => undefined,
      async run({ args, actor }) {
        const id = args.positionals[0] ?? '';
        const conn = s.connections.get(id);
        if (!conn) throw MiniftpError.notFound(`no session '${id}' (see: sessions)`);
        if (conn.id === actor.session) {
          throw MiniftpError.invalid('that is this console: type exit to leave');
        }
        conn.kill(`kicked by ${actor.user}`);
        const who = conn.user ?? 'a connection still logging in';
        return {
          text: `session ${conn.id} (${who} from ${conn.ip}) ended`,
          json: { id: conn.id, user: conn.user ?? null, ended: true },
          log: { kicked: conn.id, ...(conn.user ? { kicked_user: conn.user } : {}) },
        };
      },
    },
    {
      name: 'drain',
      usage: 'drain [--timeout 60s]',
      summary: 'stop accepting connections, let running transfers finish, then stop the server',
      details:
        'The listening socket closes at once, so a balancer sends no new connections. ' +
        'Connections already open run on for the timeout (the drain-timeout setting when ' +
        '--timeout is not given; like 90s, 5m, 1h); those still open then are ended with a ' +
        'message to reconnect, and the server process exits with status 0. This console is ' +
        'one of those connections.',
      options: { timeout: 'value' },
      maxArgs: 0,
      target: () => undefined,
      async run({ args }) {
        if (!s.drain) throw MiniftpError.invalid('this server cannot be drained from the console');
        const given = args.value('timeout');
        const seconds = given === undefined ? undefined : parseDuration(given);
        if (given !== undefined && seconds === undefined) {
          throw MiniftpError.invalid(
            `--timeout must be a duration like 90s, 5m or 1h (got '${given}')`,
          );
        }
        const started = s.drain(seconds);
        const open = s.connections.list().length;
        const text = started.already
          ? 'the server is draining already'
          : `draining: no new connections; the ${open} open ` +
            `connection${open === 1 ? '' : 's'} (this one included) may run for ` +
            `${started.timeoutSeconds} s, then the server stops`;
        return {
          text,
          json: { draining: true, already: started.already, timeout: started.timeoutSeconds },
          log: { timeout: started.timeoutSeconds },
        };
      },
    },
  ];
}
