/**
 * `npm run bench -- --balancer`: the cost of HAProxy in front of MiniFTP.
 * 8 concurrent uploads and the logins run against one node reached directly
 * and, in the same run and alternating with it, against a node behind HAProxy
 * (`mode tcp`, `send-proxy-v2`, `check`, as docs/deploy.md sets it up) with
 * the PROXY protocol on. Each node has its own data directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { haveHaproxy, startHaproxy, type Haproxy } from '../test/helpers/haproxy';
import { writeRandomFile } from './data';
import { median, type Metrics } from './metrics';
import { OpenSshClient } from './openssh-client';
import { sizeLabel, type BenchOptions } from './options';
import { waitIdle, type ChildRegistry } from './proc';
import { readBanner, startMiniftp, type BenchServer } from './servers';
import { WORKLOADS, type BenchContext } from './workloads';

export interface BalancerRun {
  readonly children: ChildRegistry;
  readonly tmp: string;
  /** Servers to stop at the end, whatever happens. */
  readonly servers: BenchServer[];
  readonly repo: string;
  say(line: string): void;
}

/** Runs the comparison and returns the report's lines. */
export async function balancerBench(o: BenchOptions, r: BalancerRun): Promise<string[]> {
  if (!haveHaproxy()) throw new Error('haproxy is not installed: apt-get install haproxy');
  const scratch = path.join(r.tmp, 'scratch');
  fs.mkdirSync(scratch, { recursive: true });
  const ctx: BenchContext = {
    options: o,
    client: new OpenSshClient(r.children, scratch, o.cipher),
    children: r.children,
    files: {
      big: '',
      concurrent: path.join(r.tmp, 'concurrent.bin'),
      smallDir: '',
    },
    scratch,
    notes: [],
  };
  await writeRandomFile(ctx.files.concurrent, o.concurrentBytes);

  const direct = await startMiniftp(r.children, {
    repo: r.repo,
    dataDir: path.join(r.tmp, 'direct'),
  });
  r.servers.push(direct);
  const node = await startMiniftp(r.children, {
    repo: r.repo,
    dataDir: path.join(r.tmp, 'balanced'),
    flags: ['--proxy-protocol', '--trusted-proxies', '127.0.0.1'],
    readBanner: false,
  });
  r.servers.push(node);
  let haproxy: Haproxy | undefined;
  try {
    haproxy = await startHaproxy({ servers: [{ name: 'node1', port: node.port }], inter: '2s' });
    const front: BenchServer = {
      ...node,
      label: 'MiniFTP behind HAProxy',
      port: haproxy.port,
      banner: await readBanner(haproxy.port),
    };
    r.say(
      `direct: MiniFTP on 127.0.0.1:${direct.port}; balanced: HAProxy on 127.0.0.1:${haproxy.port} → MiniFTP on 127.0.0.1:${node.port}`,
    );
    const targets = [direct, front];
    const results = new Map<BenchServer, Metrics[]>(targets.map((t) => [t, []]));
    const workloads = WORKLOADS.filter((w) => w.id === 'concurrent' || w.id === 'logins');
    for (const w of workloads) {
      for (let run = 0; run < o.runs; run++) {
        for (const t of targets) {
          const m = await w.run(ctx, t, run);
          results.get(t)?.push(m);
          await waitIdle(t.mainPid);
          const figure =
            w.id === 'logins' ? `${m.logins?.toFixed(2)} s` : `${m.concurrent?.toFixed(1)} MB/s`;
          r.say(`  ${w.id} run ${run + 1}/${o.runs} ${t.label}: ${figure}`);
        }
      }
    }
    const med = (t: BenchServer, id: 'concurrent' | 'logins'): number =>
      median(
        (results.get(t) ?? []).map((m) => m[id]).filter((v): v is number => v !== undefined),
      ) ?? NaN;
    const line = (label: string, id: 'concurrent' | 'logins', unit: string): string => {
      const a = med(direct, id);
      const b = med(front, id);
      const digits = id === 'logins' ? 2 : 1;
      return `${label.padEnd(34)} ${`${a.toFixed(digits)} ${unit}`.padStart(12)} ${`${b.toFixed(digits)} ${unit}`.padStart(14)} ${`${(b / a).toFixed(2)}×`.padStart(8)}`;
    };
    return [
      `${'workload'.padEnd(34)} ${'direct'.padStart(12)} ${'via HAProxy'.padStart(14)} ${'ratio'.padStart(8)}`,
      line(
        `${o.concurrentClients} concurrent uploads × ${sizeLabel(o.concurrentBytes)}`,
        'concurrent',
        'MB/s',
      ),
      line(`${o.logins} logins (sftp -b, ls)`, 'logins', 's'),
      `medians of ${o.runs} run(s), alternating; one node each (two nodes behind one balancer need a shared data directory)`,
    ];
  } finally {
    await haproxy?.stop();
  }
}
