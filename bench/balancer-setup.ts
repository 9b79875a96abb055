/**
 * The two setups `npm run bench -- --balancer` compares, both on one private
 * PostgreSQL (test/helpers/postgres.ts, each setup its own database in it):
 *
 * - direct: one MiniFTP node, clients connect to it;
 * - balanced: HAProxy (`mode tcp`, `balance leastconn`, `send-proxy-v2`,
 *   `check`) in front of nodes a and b, set up as docs/deploy.md and
 *   docs/operations.md say: one store, one homes directory (--homes-dir), the
 *   same host keys (a's keys directory copied to b's), --node-name, and the
 *   PROXY protocol from 127.0.0.1 only.
 *
 * Everything started is handed to the run's teardown before it is awaited, so
 * an error or a Ctrl-C at any point takes down what already runs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startHaproxy, type Haproxy } from '../test/helpers/haproxy';
import { pgCluster, postgresDatabase, type PgCluster } from '../test/helpers/postgres';
import { waitUntil } from '../test/helpers/probe';
import type { ChildRegistry } from './proc';
import { readBanner, startMiniftp, type BenchServer } from './servers';

export interface SetupRun {
  readonly children: ChildRegistry;
  readonly tmp: string;
  /** Servers to stop at the end, whatever happens. */
  readonly servers: BenchServer[];
  /** Run after the servers have stopped, last-added first. */
  readonly cleanups: (() => Promise<void>)[];
  readonly repo: string;
  /** More flags for every node. */
  readonly flags: string[];
}

export interface Setup {
  /** Connect here: the node itself, or HAProxy's frontend. */
  readonly server: BenchServer;
  /** The MiniFTP processes behind it (to wait until they are idle). */
  readonly nodes: BenchServer[];
  /** HAProxy, for the balanced setup. */
  readonly haproxy?: Haproxy;
}

/** Backend names in HAProxy, and the nodes' --node-name. */
export const NODE_NAMES = ['a', 'b'] as const;

const PROXY_FLAGS = ['--proxy-protocol', '--trusted-proxies', '127.0.0.1'];

/** Starts the cluster (or waits for the one starting) and stops and removes it at teardown. */
async function startDatabase(r: SetupRun): Promise<{ direct: string; shared: string }> {
  const starting: Promise<PgCluster> = pgCluster();
  r.cleanups.push(async () => {
    const cluster = await starting.catch(() => undefined);
    if (cluster === undefined) return;
    try {
      cluster.stop();
    } catch {
      // Already down (a Ctrl-C on the terminal reaches the postmaster too).
    }
    fs.rmSync(cluster.dir, { recursive: true, force: true });
  });
  await starting;
  return { direct: await postgresDatabase(), shared: await postgresDatabase() };
}

export async function startSetups(
  r: SetupRun,
  say: (line: string) => void,
): Promise<{ direct: Setup; balanced: Setup }> {
  const started = Date.now();
  const urls = await startDatabase(r);
  const cluster = await pgCluster();
  say(
    `private PostgreSQL cluster on 127.0.0.1:${cluster.port} (a database for each setup) ` +
      `ready in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );

  const direct = await startMiniftp(r.children, {
    repo: r.repo,
    dataDir: path.join(r.tmp, 'direct'),
    flags: [...r.flags, '--store-url', urls.direct, '--node-name', 'direct'],
  });
  r.servers.push(direct);

  const homesDir = path.join(r.tmp, 'homes');
  fs.mkdirSync(homesDir, { recursive: true });
  const nodes: BenchServer[] = [];
  for (const name of NODE_NAMES) {
    const dataDir = path.join(r.tmp, `node-${name}`);
    if (nodes.length > 0) {
      // The same host keys on every node: the first one made them.
      fs.cpSync(path.join(r.tmp, `node-${NODE_NAMES[0]}`, 'keys'), path.join(dataDir, 'keys'), {
        recursive: true,
      });
    }
    const node = await startMiniftp(r.children, {
      repo: r.repo,
      dataDir,
      homesDir,
      flags: [...r.flags, ...PROXY_FLAGS, '--store-url', urls.shared, '--node-name', name],
      readBanner: false,
    });
    r.servers.push(node);
    nodes.push(node);
  }

  const starting = startHaproxy({
    servers: nodes.map((n, i) => ({ name: NODE_NAMES[i] as string, port: n.port })),
    balance: 'leastconn',
    inter: '2s',
    fall: 2,
    rise: 2,
    spawn: (command, args, options) => r.children.spawn(command, args, options),
  });
  r.cleanups.push(async () => (await starting.catch(() => undefined))?.stop());
  const haproxy = await starting;
  await waitUntil(
    'HAProxy to see both nodes up',
    async () => {
      const s = await haproxy.status();
      return NODE_NAMES.every((n) => s[n] === 'UP');
    },
    30_000,
  );
  const [a, b] = nodes as [BenchServer, BenchServer];
  say(
    `direct: MiniFTP on 127.0.0.1:${direct.port}; balanced: HAProxy on 127.0.0.1:${haproxy.port} → ` +
      `node a on 127.0.0.1:${a.port}, node b on 127.0.0.1:${b.port}, homes in ${homesDir}`,
  );
  return {
    direct: { server: { ...direct, label: 'direct' }, nodes: [direct] },
    balanced: {
      server: {
        ...a,
        label: 'HAProxy + 2 nodes',
        port: haproxy.port,
        banner: await readBanner(haproxy.port),
      },
      nodes,
      haproxy,
    },
  };
}
