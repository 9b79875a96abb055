/** Live session and node commands: sessions, kick, drain, nodes (every node of a cluster). */
import { formatSize } from '../config/size';
import { MiniftpError } from '../errors';
import { parseDuration } from '../util/duration';
import type { SessionView } from './console-host';
import { type Column, formatTable } from './table';
import type { AdminServices, CommandSpec } from './types';
import { when } from './views';

/** "node/w2 (pid 4711)": where a session runs, for the table. */
function servedBy(v: SessionView): string {
  const where = v.worker === undefined ? (v.node ?? '') : `${v.node ?? ''}/w${v.worker}`;
  return v.pid === undefined ? where : `${where} (${v.pid})`;
}

export function sessionCommands(s: AdminServices): CommandSpec[] {
  return [
    {
      name: 'sessions',
      usage: 'sessions [--json]',
      summary:
        'live connections of every node: id, node, user, address, since when, client software',
      maxArgs: 0,
      async run({ actor, io }) {
        const live = await s.connections.list();
        const clustered = s.connections.clustered;
        const rows = live.map((c) => ({
          id: c.id,
          ...(clustered
            ? { node: c.node ?? null, pid: c.pid ?? null, worker: c.worker ?? null }
            : {}),
          user: c.user ?? null,
          ip: c.ip,
          port: c.port,
          since: c.since.toISOString(),
          method: c.method ?? null,
          client: c.clientIdent ?? null,
          bytes: c.bytes ?? null,
          current: c.id === actor.session,
        }));
        const columns: Column[] = [
          { header: 'ID' },
          ...(clustered ? [{ header: 'NODE', cutOrder: 3 }] : []),
          { header: 'USER', cutOrder: 2 },
          { header: 'FROM' },
          { header: 'SINCE' },
          { header: 'AUTH' },
          ...(clustered ? [{ header: 'BYTES', align: 'right' as const }] : []),
          // At a narrow terminal the client software is cut first, then the user name.
          { header: 'CLIENT', cutOrder: 1 },
        ];
        const text = formatTable(
          columns,
          live.map((c, i) => {
            const r = rows[i] as (typeof rows)[number];
            const user = r.user === null ? '(logging in)' : r.current ? `${r.user} (you)` : r.user;
            return [
              r.id,
              ...(clustered ? [servedBy(c)] : []),
              user,
              `${r.ip}:${r.port}`,
              when(r.since),
              r.method ?? '-',
              ...(clustered ? [c.bytes === undefined ? '-' : formatSize(c.bytes)] : []),
              r.client?.replace(/^SSH-2\.0-/, '') ?? '',
            ];
          }),
          { maxWidth: io.columns },
        );
        return { text, json: rows };
      },
    },
    {
      name: 'kick',
      usage: 'kick SESSION-ID',
      summary: 'end a live connection on any node (ids as `sessions` shows them)',
      minArgs: 1,
      maxArgs: 1,
      target: () => undefined,
      async run({ args, actor }) {
        const id = args.positionals[0] ?? '';
        if (id === actor.session) {
          throw MiniftpError.invalid('that is this console: type exit to leave');
        }
        const conn = await s.connections.kick(id, `kicked by ${actor.user}`);
        if (!conn) throw MiniftpError.notFound(`no session '${id}' (see: sessions)`);
        const who = conn.user ?? 'a connection still logging in';
        const where = conn.node === undefined ? '' : ` on ${conn.node}`;
        return {
          text: `session ${conn.id} (${who} from ${conn.ip}${where}) ended`,
          json: { id: conn.id, user: conn.user ?? null, node: conn.node ?? null, ended: true },
          log: {
            kicked: conn.id,
            ...(conn.user ? { kicked_user: conn.user } : {}),
            ...(conn.node === undefined ? {} : { kicked_node: conn.node }),
          },
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
        const open = (await s.connections.list()).length;
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
    {
      name: 'nodes',
      usage: 'nodes [--json]',
      summary: 'the nodes sharing this store: last heartbeat, sessions, version',
      maxArgs: 0,
      async run({ io }) {
        const nodes = await s.nodes.list();
        const rows = nodes.map((n) => ({
          name: n.name,
          pid: n.pid,
          workers: n.workers,
          version: n.version,
          startedAt: n.startedAt.toISOString(),
          heartbeatAt: n.heartbeatAt.toISOString(),
          sessions: n.sessions,
          current: n.current,
        }));
        const now = Date.now();
        const text = formatTable(
          [
            { header: 'NODE', cutOrder: 1 },
            { header: 'PID', align: 'right' },
            { header: 'WORKERS', align: 'right' },
            { header: 'VERSION' },
            { header: 'STARTED' },
            { header: 'HEARTBEAT', align: 'right' },
            { header: 'SESSIONS', align: 'right' },
          ],
          nodes.map((n) => [
            n.current ? `${n.name} (this)` : n.name,
            String(n.pid),
            String(n.workers),
            n.version,
            when(n.startedAt.toISOString()),
            `${Math.max(0, Math.round((now - n.heartbeatAt.getTime()) / 1000))}s ago`,
            String(n.sessions),
          ]),
          { maxWidth: io.columns },
        );
        return { text, json: rows };
      },
    },
  ];
}
