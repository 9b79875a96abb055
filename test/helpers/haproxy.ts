/**
 * HAProxy (Debian's `haproxy`, /usr/sbin/haproxy) in front of MiniFTP for a
 * test: `mode tcp`, a config written here, its frontend on a free loopback
 * port, and an admin socket to read the servers' check state from.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { waitUntil } from './probe';

export const HAPROXY = '/usr/sbin/haproxy';

export function haveHaproxy(): boolean {
  return existsSync(HAPROXY);
}

/** A port free on 127.0.0.1 right now (HAProxy cannot bind port 0 and tell it back). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export interface BackendServer {
  readonly name: string;
  /** 127.0.0.1 unless given. */
  readonly host?: string;
  readonly port: number;
}

export interface HaproxyOptions {
  servers: readonly BackendServer[];
  /** The server line's PROXY option: `send-proxy-v2` (default) or `send-proxy` (version 1). */
  proxy?: 'send-proxy-v2' | 'send-proxy';
  /** Health checks: interval (like "100ms"), failures to mark a server down, successes to mark it up. */
  inter?: string;
  fall?: number;
  rise?: number;
  /** The backend's `balance` algorithm; absent: HAProxy's default (roundrobin), no line written. */
  balance?: 'roundrobin' | 'leastconn';
  /** Starts the process (the bench passes its registry's, so that it ends it too). */
  spawn?: (command: string, args: string[], options: SpawnOptions) => ChildProcess;
}

export interface Haproxy {
  /** The frontend's port on 127.0.0.1, where clients connect. */
  readonly port: number;
  readonly config: string;
  /** Each backend server's check state as the admin socket reports it ("UP", "DOWN", …). */
  status(): Promise<Record<string, string>>;
  /** Each backend server's connections open through HAProxy right now. */
  sessions(): Promise<Record<string, number>>;
  /** Each backend server's connections since HAProxy started (health checks not included). */
  totals(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/**
 * The config HAProxy runs with here; docs/deploy.md shows the same text for
 * two nodes (a unit test holds them together).
 */
export function haproxyConfig(o: HaproxyOptions & { bind: string; socket: string }): string {
  const proxy = o.proxy ?? 'send-proxy-v2';
  const checks = `check inter ${o.inter ?? '100ms'} fall ${o.fall ?? 1} rise ${o.rise ?? 1}`;
  return [
    'global',
    '  maxconn 1000',
    `  stats socket ${o.socket} mode 600 level admin`,
    '',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 1h',
    '  timeout server 1h',
    '',
    'frontend sftp',
    `  bind ${o.bind}`,
    '  default_backend miniftp',
    '',
    'backend miniftp',
    ...(o.balance === undefined ? [] : [`  balance ${o.balance}`]),
    ...o.servers.map(
      (s) => `  server ${s.name} ${s.host ?? '127.0.0.1'}:${s.port} ${proxy} ${checks}`,
    ),
    '',
  ].join('\n');
}

/** Starts HAProxy in the foreground; resolves once its frontend accepts connections. */
export async function startHaproxy(o: HaproxyOptions): Promise<Haproxy> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-haproxy-'));
  const socket = path.join(dir, 'admin.sock');
  const frontPort = await freePort();
  const config = haproxyConfig({ ...o, bind: `127.0.0.1:${frontPort}`, socket });
  const file = path.join(dir, 'haproxy.cfg');
  await fsp.writeFile(file, config);
  const child: ChildProcess = (o.spawn ?? spawn)(HAPROXY, ['-db', '-f', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  await waitUntil(`HAProxy listening on ${frontPort}`, async () => {
    if (gone) throw new Error(`haproxy exited: ${output}`);
    return (await canConnect(frontPort)) && existsSync(socket);
  });
  return {
    port: frontPort,
    config,
    status: async () => parseStat(await adminCommand(socket, 'show stat'), 'status'),
    sessions: async () => numbers(parseStat(await adminCommand(socket, 'show stat'), 'scur')),
    totals: async () => numbers(parseStat(await adminCommand(socket, 'show stat'), 'stot')),
    stop: async () => {
      if (!gone) {
        child.kill('SIGTERM');
        await exited;
      }
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** One command on HAProxy's admin socket; resolves with its whole answer. */
function adminCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const c = net.connect(socket, () => c.end(`${command}\n`));
    c.on('data', (d: Buffer) => (answer += d.toString()));
    c.once('error', reject);
    c.once('close', () => resolve(answer));
  });
}

function numbers(column: Record<string, string>): Record<string, number> {
  return Object.fromEntries(Object.entries(column).map(([k, v]) => [k, Number(v)]));
}

/** Server name → one column (`status`, `scur`, …) of `show stat` CSV. */
function parseStat(csv: string, column: string): Record<string, string> {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const head = (lines[0] ?? '').replace(/^# /, '').split(',');
  const sv = head.indexOf('svname');
  const st = head.indexOf(column);
  const out: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    const name = f[sv] ?? '';
    if (name !== 'FRONTEND' && name !== 'BACKEND') out[name] = f[st] ?? '';
  }
  return out;
}
