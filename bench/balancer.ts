/**
 * `npm run bench -- --balancer`: what HAProxy in front of two MiniFTP nodes
 * costs (or gains) against one node reached directly. Both setups are on the
 * same private PostgreSQL (bench/balancer-setup.ts), so the differences are
 * the balancer's hop and the second node. In the same run, alternating (the
 * order flips every run): 8 concurrent uploads, each file then checked whole
 * (size and MD5) on the server's disk, and the logins, each timed alone.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { haveHaproxy } from '../test/helpers/haproxy';
import { prefixMd5, writeRandomFile } from './data';
import { median, percentile } from './metrics';
import { OpenSshClient } from './openssh-client';
import { sizeLabel, type BenchOptions } from './options';
import { cpuTicks, descendants, ticksToSeconds, waitIdle } from './proc';
import { machineInfo } from './report';
import { NODE_NAMES, startSetups, type Setup, type SetupRun } from './balancer-setup';
import { ensureOk, mbPerSecond, q, readStamps, stampFile, type BenchContext } from './workloads';

export interface BalancerRun extends Omit<SetupRun, 'flags'> {
  say(line: string): void;
}

/** One setup's figures, every run's. */
interface Tally {
  /** Per run: the uploads' wall time (first transfer's start to the last one's end), ms. */
  uploadMs: number[];
  /**
   * Per run: CPU seconds the uploads cost (user + system) the sftp and ssh clients, each
   * MiniFTP node (until idle again, background digests included) and HAProxy.
   */
  uploadCpu: { clients: number; nodes: number[]; haproxy: number }[];
  /** Every login's time, ms (all runs). */
  loginMs: number[];
  /** Connections per node through HAProxy, all runs (balanced only). */
  connections: { uploads: Record<string, number>; logins: Record<string, number> };
}

export interface BalancerReport {
  date: string;
  runs: number;
  concurrentClients: number;
  concurrentBytes: number;
  loginsPerRun: number;
  machine: ReturnType<typeof machineInfo> & { loadAverageAtEnd: number[] };
  direct: Tally;
  balanced: Tally;
}

/** Connections each node took between two readings of HAProxy's counters. */
async function counted(
  setup: Setup,
  into: Record<string, number>,
  fn: () => Promise<void>,
): Promise<void> {
  const before = await setup.haproxy?.totals();
  await fn();
  const after = await setup.haproxy?.totals();
  if (before === undefined || after === undefined) return;
  for (const name of NODE_NAMES) {
    into[name] = (into[name] ?? 0) + ((after[name] ?? 0) - (before[name] ?? 0));
  }
}

/** The file on the server's disk has the source's size and MD5; then it is removed. */
async function checkWhole(setup: Setup, name: string, bytes: number, md5: Buffer): Promise<void> {
  const disk = setup.server.disk(name);
  if (disk === undefined) throw new Error(`no disk path for ${name}`);
  const size = fs.statSync(disk).size;
  if (size !== bytes)
    throw new Error(`${setup.server.label}: ${name} has ${size} of ${bytes} bytes`);
  const got = await prefixMd5(disk, size);
  if (!got.equals(md5)) throw new Error(`${setup.server.label}: ${name} differs from the source`);
  fs.rmSync(disk);
}

/** CPU time of the bench's children that have ended (the sftp and ssh clients), in ticks. */
function reapedTicks(): number {
  return cpuTicks('self', true) - cpuTicks('self');
}

/** HAProxy, a child of this process (it runs in the foreground, `-db`). */
function haproxyProcess(): number | undefined {
  return descendants(process.pid).find((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'haproxy';
    } catch {
      return false;
    }
  });
}

async function idle(setup: Setup): Promise<void> {
  for (const node of setup.nodes) await waitIdle(node.mainPid);
}

async function uploads(
  ctx: BenchContext,
  setup: Setup,
  tally: Tally,
  run: number,
  md5: Buffer,
): Promise<number> {
  const o = ctx.options;
  const names = Array.from({ length: o.concurrentClients }, (_, i) => `conc-${run}-${i}.bin`);
  let stamps: [number, number][] = [];
  const haproxyPid = setup.haproxy === undefined ? undefined : haproxyProcess();
  const haproxy0 = haproxyPid === undefined ? 0 : cpuTicks(haproxyPid);
  const nodes0 = setup.nodes.map((n) => n.cpuTicks());
  const clients0 = reapedTicks();
  await counted(setup, tally.connections.uploads, async () => {
    stamps = await Promise.all(
      names.map(async (name) => {
        const stamp = stampFile(ctx);
        const r = await ctx.client.sftp(setup.server.port, setup.server.transferCreds, [
          stamp.line,
          `put ${q(ctx.files.concurrent)} ${q(setup.server.remote(name))}`,
          stamp.line,
        ]);
        ensureOk(r, `${setup.server.label}: concurrent upload`);
        return readStamps(stamp.file, 2) as [number, number];
      }),
    );
  });
  const ms = Math.max(...stamps.map((s) => s[1])) - Math.min(...stamps.map((s) => s[0]));
  tally.uploadMs.push(ms);
  const clients = reapedTicks() - clients0;
  await idle(setup);
  tally.uploadCpu.push({
    clients: ticksToSeconds(clients),
    nodes: setup.nodes.map((n, i) => ticksToSeconds(n.cpuTicks() - (nodes0[i] ?? 0))),
    haproxy: haproxyPid === undefined ? 0 : ticksToSeconds(cpuTicks(haproxyPid) - haproxy0),
  });
  for (const name of names) await checkWhole(setup, name, o.concurrentBytes, md5);
  return ms;
}

async function logins(ctx: BenchContext, setup: Setup, tally: Tally): Promise<number[]> {
  const times: number[] = [];
  await counted(setup, tally.connections.logins, async () => {
    for (let i = 0; i < ctx.options.logins; i++) {
      const r = await ctx.client.sftp(setup.server.port, setup.server.loginCreds, ['ls']);
      ensureOk(r, `${setup.server.label}: login`);
      times.push(r.ms);
    }
  });
  tally.loginMs.push(...times);
  await idle(setup);
  return times;
}

const emptyTally = (): Tally => ({
  uploadMs: [],
  uploadCpu: [],
  loginMs: [],
  connections: { uploads: {}, logins: {} },
});

/** Runs the comparison; returns the report's lines and its figures. */
export async function balancerBench(
  o: BenchOptions,
  r: BalancerRun,
): Promise<{ lines: string[]; report: BalancerReport }> {
  if (!haveHaproxy()) throw new Error('haproxy is not installed: apt-get install haproxy');
  const machine = machineInfo();
  const scratch = path.join(r.tmp, 'scratch');
  fs.mkdirSync(scratch, { recursive: true });
  const ctx: BenchContext = {
    options: o,
    client: new OpenSshClient(r.children, scratch, o.cipher),
    children: r.children,
    files: { big: '', concurrent: path.join(r.tmp, 'concurrent.bin'), smallDir: '' },
    scratch,
    notes: [],
  };
  await writeRandomFile(ctx.files.concurrent, o.concurrentBytes);
  const md5 = await prefixMd5(ctx.files.concurrent, o.concurrentBytes);
  // A forced cipher must be on offer: OpenSSH clients are otherwise offered AES-GCM only.
  const flags = o.cipher ? ['--gcm-for-openssh', 'false'] : [];
  const setups = await startSetups({ ...r, flags }, r.say);
  const sides = [
    { setup: setups.direct, tally: emptyTally() },
    { setup: setups.balanced, tally: emptyTally() },
  ];
  for (let run = 0; run < o.runs; run++) {
    // A B, then B A: neither setup always goes first.
    const order = run % 2 === 0 ? sides : [...sides].reverse();
    for (const s of order) {
      const ms = await uploads(ctx, s.setup, s.tally, run, md5);
      r.say(
        `  uploads run ${run + 1}/${o.runs} ${s.setup.server.label}: ${(ms / 1000).toFixed(2)} s, ` +
          `${mbPerSecond(o.concurrentClients * o.concurrentBytes, ms).toFixed(1)} MB/s, all whole`,
      );
    }
    for (const s of order) {
      const times = await logins(ctx, s.setup, s.tally);
      r.say(
        `  logins run ${run + 1}/${o.runs} ${s.setup.server.label}: median ${fmtS(median(times))}, ` +
          `p95 ${fmtS(percentile(times, 95))}`,
      );
    }
  }
  const [direct, balanced] = sides.map((s) => s.tally) as [Tally, Tally];
  const report: BalancerReport = {
    date: new Date().toISOString(),
    runs: o.runs,
    concurrentClients: o.concurrentClients,
    concurrentBytes: o.concurrentBytes,
    loginsPerRun: o.logins,
    machine: { ...machine, loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100) },
    direct,
    balanced,
  };
  return { lines: formatBalancer(report), report };
}

function fmtS(ms: number | undefined): string {
  return ms === undefined ? '—' : `${(ms / 1000).toFixed(2)} s`;
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

function cpu(t: Tally, pick: (c: Tally['uploadCpu'][number]) => number): string {
  const m = median(t.uploadCpu.map(pick));
  return m === undefined ? '—' : `${m.toFixed(1)} s`;
}

function eachRun(ms: number[]): string {
  return `${ms.map((v) => (v / 1000).toFixed(2)).join(' / ')} s`;
}

function perNode(counts: Record<string, number>): string {
  return NODE_NAMES.map((n) => `${n} ${counts[n] ?? 0}`).join(', ');
}

export function formatBalancer(r: BalancerReport): string[] {
  const bytes = r.concurrentClients * r.concurrentBytes;
  const rows: [string, number | undefined, number | undefined, string][] = [
    [
      `${r.concurrentClients} concurrent uploads × ${sizeLabel(r.concurrentBytes)}: wall time`,
      median(r.direct.uploadMs),
      median(r.balanced.uploadMs),
      's',
    ],
    [
      '  the same, as throughput',
      mbps(bytes, median(r.direct.uploadMs)),
      mbps(bytes, median(r.balanced.uploadMs)),
      'MB/s',
    ],
    [
      `logins (sftp -b, ls), ${r.runs} × ${r.loginsPerRun}: median`,
      median(r.direct.loginMs),
      median(r.balanced.loginMs),
      's',
    ],
    ['  p95', percentile(r.direct.loginMs, 95), percentile(r.balanced.loginMs, 95), 's'],
  ];
  const cell = (v: number | undefined, unit: string): string =>
    v === undefined ? '—' : unit === 's' ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ${unit}`;
  const m = r.machine;
  return [
    `HAProxy (mode tcp, balance leastconn, send-proxy-v2, check) in front of MiniFTP nodes a and b ` +
      `(one PostgreSQL database, one homes directory, the same host keys, PROXY protocol on) ` +
      `against one MiniFTP node reached directly (its own database on the same PostgreSQL), ${r.date}`,
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.kernel}; load average ` +
      `${m.loadAverageAtStart.join(' ')} at start, ${m.loadAverageAtEnd.join(' ')} at end`,
    '',
    `${'workload'.padEnd(42)} ${'direct'.padStart(12)} ${'HAProxy + 2 nodes'.padStart(18)} ${'ratio'.padStart(7)}`,
    ...rows.map(([label, a, b, unit]) => {
      const ratio = a !== undefined && b !== undefined && a > 0 ? `${(b / a).toFixed(2)}×` : '—';
      return `${label.padEnd(42)} ${cell(a, unit).padStart(12)} ${cell(b, unit).padStart(18)} ${ratio.padStart(7)}`;
    }),
    '',
    `ratio = HAProxy + 2 nodes / direct: above 1 is a cost for times and a gain for MB/s. MB = 10^6 bytes.`,
    `uploads: median of ${r.runs} run(s), from the first transfer's start to the last one's end (logins ` +
      `left out); every file checked on the server's disk afterwards (size and MD5 of the whole file)`,
    `logins: each \`sftp -b\` run timed alone (process start, key exchange, password auth with ` +
      `argon2id, ls, exit), one after another; median and p95 of all ${r.runs * r.loginsPerRun} per setup`,
    `uploads, each run in order: direct ${eachRun(r.direct.uploadMs)}; ` +
      `HAProxy + 2 nodes ${eachRun(r.balanced.uploadMs)}`,
    `CPU of an upload run, its 8 logins included (median): direct: clients ${cpu(r.direct, (c) => c.clients)}, ` +
      `node ${cpu(r.direct, (c) => sum(c.nodes))}; HAProxy + 2 nodes: clients ` +
      `${cpu(r.balanced, (c) => c.clients)}, nodes ${cpu(r.balanced, (c) => sum(c.nodes))} ` +
      `(${NODE_NAMES.map((n, i) => `${n} ${cpu(r.balanced, (c) => c.nodes[i] ?? 0)}`).join(', ')}), ` +
      `HAProxy ${cpu(r.balanced, (c) => c.haproxy)}`,
    `runs alternate between the setups, the order flipped every run; each waits until the nodes are idle`,
    `connections through HAProxy per node: uploads ${perNode(r.balanced.connections.uploads)}; ` +
      `logins ${perNode(r.balanced.connections.logins)}`,
    `the clients, HAProxy, PostgreSQL and both nodes share these ${m.cores} cores: the second node ` +
      `brings no CPU of its own here, so this shows what the hop and the second node cost on one ` +
      `machine, not what a second machine adds` +
      (Math.max(m.loadAverageAtStart[0] ?? 0, m.loadAverageAtEnd[0] ?? 0) > m.cores
        ? `; the load average went above ${m.cores}: other work shared them too`
        : ''),
  ];
}

function mbps(bytes: number, ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : mbPerSecond(bytes, ms);
}
