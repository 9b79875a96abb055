/**
 * `npm run bench`: MiniFTP and OpenSSH's sshd side by side on loopback, driven
 * by the stock OpenSSH sftp client, runs alternating between the servers.
 * Everything lives in one temp directory, removed at the end and on Ctrl-C.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeRandomFile, writeSmallFiles } from './data';
import { metricDefs, type MetricId, type Metrics } from './metrics';
import { OpenSshClient, type Credentials, type Negotiated } from './openssh-client';
import { parseOptions, sizeLabel, USAGE, UsageError, type BenchOptions } from './options';
import { ChildRegistry, rssBytes, waitIdle } from './proc';
import {
  buildRows,
  formatReport,
  machineInfo,
  type BenchReport,
  type Row,
  type ServerInfo,
} from './report';
import { balancerBench } from './balancer';
import { formatLongLink, longLink, type LongLinkRow } from './long-link';
import { resumeCheck } from './resume-check';
import {
  addMiniftpKey,
  ensurePrivsepDir,
  FLOOR_KINDS,
  startFloor,
  startMiniftp,
  startSshd,
  type BenchServer,
  makeKey,
} from './servers';
import { DOWNLOAD_SOURCE, WORKLOADS, type BenchContext, type Workload } from './workloads';

const MiB = 1024 * 1024;
const REPO = path.resolve(__dirname, '..', '..');

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function describeAuth(c: Credentials): string {
  return c.identity ? 'public key (ed25519)' : 'password (argon2id verify included)';
}

/** Owns what a run creates, and takes it all down once, however the run ends. */
class Teardown {
  readonly children = new ChildRegistry();
  readonly servers: BenchServer[] = [];
  /** What else to take down after the servers (a balancer, a database), run last-added first. */
  readonly cleanups: (() => Promise<void>)[] = [];
  privsepCreated = false;
  private done: Promise<void> | undefined;

  constructor(readonly tmp: string) {}

  run(): Promise<void> {
    this.done ??= this.teardown();
    return this.done;
  }

  private async teardown(): Promise<void> {
    // Clients first, so sshd's per-connection processes end with their connections.
    for (const s of [...this.servers].reverse()) {
      await s.stop().catch(() => undefined);
    }
    for (const cleanup of [...this.cleanups].reverse()) {
      await cleanup().catch(() => undefined);
    }
    this.children.killAll('SIGKILL');
    fs.rmSync(this.tmp, { recursive: true, force: true });
    if (this.privsepCreated) {
      try {
        fs.rmdirSync('/run/sshd');
      } catch {
        // Not empty any more: something else uses it now, so it stays.
      }
    }
  }
}

async function versionOf(
  children: ChildRegistry,
  command: string,
  args: string[],
): Promise<string> {
  try {
    const r = await children.run(command, args);
    return (r.stderr || r.stdout).trim().split('\n')[0] ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

function packageVersion(file: string): string {
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function nativeCryptoBinding(): string {
  try {
    // ssh2 falls back to slower JavaScript ciphers when its addon did not build.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const crypto = require('ssh2/lib/protocol/crypto.js') as { bindingAvailable?: boolean };
    return crypto.bindingAvailable ? 'present' : 'MISSING (ciphers fall back to JavaScript)';
  } catch {
    return 'unknown';
  }
}

async function prepareData(o: BenchOptions, ctx: BenchContext): Promise<void> {
  const started = Date.now();
  // The long-link runs use the big file, the small files and the concurrent clients' file.
  const want = new Set<string>(
    o.rtts.length > 0 ? ['upload', 'small-files', 'concurrent'] : o.workloads,
  );
  if (want.has('upload') || want.has('download') || want.has('resume-check'))
    await writeRandomFile(ctx.files.big, o.bigBytes);
  if (want.has('concurrent')) await writeRandomFile(ctx.files.concurrent, o.concurrentBytes);
  if (want.has('small-files'))
    await writeSmallFiles(ctx.files.smallDir, o.smallFiles, o.smallFileBytes);
  say(`test data ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function summary(m: Metrics): string {
  return Object.entries(m)
    .map(
      ([k, v]) =>
        `${k} ${(v as number).toFixed(k.endsWith('-r') || k.endsWith('-cpu') || k === 'logins' ? 2 : 1)}`,
    )
    .join(', ');
}

async function runWorkload(
  w: Workload,
  ctx: BenchContext,
  servers: BenchServer[],
  results: Map<string, Metrics[]>,
): Promise<void> {
  const targets = servers.filter((s) =>
    w.miniftpOnly ? s.name === 'MiniFTP' : s.floor === undefined || s.floor === w.floor,
  );
  /** Per MiniFTP run: how long the server stayed busy after the transfer ended. */
  const busy: number[] = [];
  try {
    for (const s of targets) await w.prepare?.(ctx, s);
    for (let run = 0; run < ctx.options.runs; run++) {
      // A B A B…: both servers see the same background load as nearly as possible.
      for (const s of targets) {
        const m = await w.run(ctx, s, run);
        results.get(s.name)?.push(m);
        // The next run starts on an idle machine, whichever server goes next.
        const busyMs = await waitIdle(s.mainPid);
        if (s.name === 'MiniFTP') busy.push(busyMs);
        say(`  ${w.id} run ${run + 1}/${ctx.options.runs} ${s.name}: ${summary(m)}`);
      }
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    ctx.notes.push(`${w.id} failed: ${message}`);
    say(`  ${w.id} FAILED: ${message}`);
  } finally {
    for (const s of targets) await w.finish?.(ctx, s).catch(() => undefined);
    if (busy.some((ms) => ms >= 100)) {
      ctx.notes.push(
        `${w.id}: MiniFTP stayed busy after each transfer ended (upload digests finishing in the background) for ` +
          `${busy.map((ms) => `${(ms / 1000).toFixed(2)} s`).join(', ')}; the next run waited until it was idle`,
      );
    }
  }
}

/**
 * put -r and get -r send one request at a time and wait for each reply, so
 * the time the client processes spend on the CPU is a floor under the whole
 * time whatever the server does: this says how low the ratio can go here.
 */
function smallFilesFloor(rows: Row[]): string | undefined {
  const row = (id: MetricId): Row | undefined => rows.find((r) => r.id === id);
  const client = row('small-client-cpu')?.miniftp;
  const put = row('put-r')?.openssh;
  const get = row('get-r')?.openssh;
  if (client === undefined || put === undefined || get === undefined) return undefined;
  const openssh = put + get;
  const serverO = row('small-server-cpu')?.openssh;
  const clientO = row('small-client-cpu')?.openssh;
  return (
    `put -r + get -r: the sftp and ssh client processes used ${client.toFixed(2)} s of CPU in MiniFTP's runs ` +
    `(${clientO?.toFixed(2) ?? '?'} s in OpenSSH's), and OpenSSH took ${openssh.toFixed(2)} s for both, its server using ` +
    `${serverO?.toFixed(2) ?? '?'} s of CPU; requests go one at a time, so no server can bring the ratio below ` +
    `${(client / openssh).toFixed(2)}× on this machine, and 0.8× would leave MiniFTP ` +
    `${Math.max(0, 0.8 * openssh - client).toFixed(2)} s for all its own work`
  );
}

async function bench(o: BenchOptions, td: Teardown): Promise<BenchReport> {
  const machine = machineInfo();
  const { children, tmp } = td;
  const notes: string[] = [];
  const scratch = path.join(tmp, 'scratch');
  const dataDir = path.join(tmp, 'data');
  fs.mkdirSync(scratch, { recursive: true });
  fs.mkdirSync(dataDir, { recursive: true });
  const client = new OpenSshClient(children, scratch, o.cipher);
  const ctx: BenchContext = {
    options: o,
    client,
    children,
    files: {
      big: path.join(dataDir, 'big.bin'),
      concurrent: path.join(dataDir, 'concurrent.bin'),
      smallDir: path.join(dataDir, 'small'),
    },
    scratch,
    notes,
  };
  say(
    `bench in ${tmp}: ${o.quick ? 'quick, ' : ''}${o.runs} run(s); big file ${sizeLabel(o.bigBytes)}, ` +
      `${o.concurrentClients} × ${sizeLabel(o.concurrentBytes)}, ${o.smallFiles} × ${sizeLabel(o.smallFileBytes)}, ${o.logins} logins`,
  );
  await prepareData(o, ctx);

  const identity = path.join(scratch, 'id_ed25519');
  await makeKey(children, identity, 'miniftp-bench');
  const publicKey = fs.readFileSync(`${identity}.pub`, 'utf8');

  const miniftp = await startMiniftp(children, {
    repo: REPO,
    dataDir: path.join(tmp, 'miniftp'),
    workers: o.workers,
    // A forced cipher must be on offer: OpenSSH clients are otherwise offered AES-GCM only.
    flags: o.cipher ? ['--gcm-for-openssh', 'false'] : [],
  });
  td.servers.push(miniftp);
  say(`MiniFTP listening on 127.0.0.1:${miniftp.port}`);
  const keyProblem = await addMiniftpKey(client, miniftp, identity, publicKey);
  if (keyProblem) {
    notes.push(
      `MiniFTP transfers use password auth: adding a key through the admin console failed (${keyProblem})`,
    );
  }

  const servers: BenchServer[] = [miniftp];
  if (fs.existsSync(o.sshdPath)) {
    td.privsepCreated = ensurePrivsepDir();
    const server = await startSshd(children, {
      sshd: o.sshdPath,
      dir: path.join(tmp, 'sshd'),
      filesDir: path.join(tmp, 'openssh-files'),
      identity,
      publicKey,
    });
    td.servers.push(server);
    servers.push(server);
    say(`OpenSSH sshd listening on 127.0.0.1:${server.port}`);
    if (td.privsepCreated)
      notes.push('created the empty /run/sshd that sshd requires as root; removed at the end');
  } else {
    say(`${o.sshdPath} not found: benchmarking MiniFTP alone, no ratios`);
    notes.push(
      `${o.sshdPath} not found: MiniFTP alone, no ratios (Debian: apt-get install openssh-server)`,
    );
  }

  const workloads = [...WORKLOADS, resumeCheck(path.join(tmp, 'miniftp', 'log'))].filter((w) =>
    o.workloads.includes(w.id),
  );
  // Each floor only when a chosen workload runs against it.
  for (const kind of FLOOR_KINDS) {
    if (!o.floor || !workloads.some((w) => w.floor === kind)) continue;
    const disk = kind === 'disk' ? path.join(tmp, 'floor-files') : undefined;
    if (disk !== undefined) fs.mkdirSync(disk);
    const floor = await startFloor(children, {
      dir: __dirname,
      cipher: o.cipher,
      files: { [DOWNLOAD_SOURCE]: o.bigBytes },
      disk,
      identity,
    });
    td.servers.push(floor);
    servers.push(floor);
    say(`ssh2 ${floor.label} listening on 127.0.0.1:${floor.port}`);
  }

  const idle = servers.map((s) => `${s.label} ${(rssBytes(s.mainPid) / MiB).toFixed(1)} MiB`);
  const negotiated = new Map<string, Negotiated>();
  for (const s of servers) {
    negotiated.set(s.label, await client.negotiated(s.port, s.transferCreds));
  }

  const kexes = new Set([...negotiated.values()].map((n) => n.kex));
  if (kexes.size > 1) {
    notes.push(
      `the key exchanges differ (${[...negotiated].map(([k, n]) => `${k} ${n.kex}`).join(', ')}): ` +
        'each server offers what it has and the client picks; this weighs on login times',
    );
  }
  const results = new Map<string, Metrics[]>(servers.map((s) => [s.name, []]));
  const openssh = servers.find((s) => s.name === 'OpenSSH');
  let longLinkRows: LongLinkRow[] | undefined;
  if (o.rtts.length > 0) {
    if (!openssh) throw new Error('--rtt compares with OpenSSH: sshd is needed');
    longLinkRows = await longLink({
      ctx,
      children,
      miniftp,
      openssh,
      repo: REPO,
      identity: keyProblem ? undefined : identity,
      say,
    });
    workloads.splice(0);
  }
  for (const w of workloads) {
    say(`${w.id}:`);
    await runWorkload(w, ctx, servers, results);
  }

  const sshdPresent = servers.some((s) => s.name === 'OpenSSH');
  const after = servers.map((s) => `${s.label} ${(rssBytes(s.mainPid) / MiB).toFixed(1)} MiB`);
  const method = [
    'transfer times are taken inside the sftp batch (`!date` before and after the transfer), so logins are left out; ' +
      'the logins workload times whole `sftp -b` runs (process start, key exchange, auth, ls, exit)',
    `RSS of the started process: after start ${idle.join(', ')}; after the workloads ${after.join(', ')}` +
      (sshdPresent ? ' (for OpenSSH the listener alone, which serves no session)' : ''),
  ];
  if (o.cipher) method.push(`cipher forced on every client run with sftp -c ${o.cipher}`);
  if (sshdPresent && o.workloads.includes('logins')) {
    method.push(
      'logins: MiniFTP with password auth (argon2id verify included), OpenSSH with key auth (an ed25519 signature check): ' +
        'not the same work, as the bar intends (a password login to sshd would need PAM and a real account password)',
    );
  }
  const info: ServerInfo[] = servers.map((s) => ({
    name: s.label,
    banner: s.banner,
    transferAuth: describeAuth(s.transferCreds),
    loginAuth: describeAuth(s.loginCreds),
    negotiated: negotiated.get(s.label),
    rssMethod: s.rssMethod,
  }));
  for (const s of info) method.push(`RSS of ${s.name}: ${s.rssMethod}`);
  const rows = buildRows(metricDefs(o), {
    miniftp: results.get('MiniFTP') ?? [],
    openssh: results.get('OpenSSH') ?? [],
    floor: results.get('floor') ?? [],
  });
  const floor = smallFilesFloor(rows);
  if (floor) method.push(floor);
  return {
    date: new Date().toISOString(),
    mode: o.quick ? 'quick' : 'full',
    runs: o.runs,
    machine: { ...machine, loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100) },
    versions: {
      Node: process.version,
      'OpenSSH client': await versionOf(children, 'ssh', ['-V']),
      MiniFTP: packageVersion(path.join(REPO, 'package.json')),
      ssh2: packageVersion(path.join(REPO, 'node_modules', 'ssh2', 'package.json')),
      "ssh2's native crypto binding": nativeCryptoBinding(),
    },
    servers: info,
    rows,
    notes: [...method, ...notes],
    longLink: longLinkRows,
  };
}

export async function main(argv: string[]): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseOptions(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const td = new Teardown(fs.mkdtempSync(path.join(os.tmpdir(), 'miniftp-bench-')));
  const onSignal = (signal: NodeJS.Signals): void => {
    say(`\n${signal}: stopping the servers and removing ${td.tmp}`);
    void td.run().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const started = Date.now();
  if (options.balancer) {
    try {
      const { lines, report } = await balancerBench(options, {
        children: td.children,
        tmp: td.tmp,
        servers: td.servers,
        cleanups: td.cleanups,
        repo: REPO,
        say,
      });
      say('');
      for (const line of lines) say(line);
      say(`\nbench took ${((Date.now() - started) / 1000).toFixed(0)} s`);
      if (options.json) {
        fs.writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
        say(`JSON written to ${options.json}`);
      }
      return 0;
    } catch (err) {
      process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    } finally {
      await td.run();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
  try {
    const report = await bench(options, td);
    say('');
    if (report.longLink) say(formatLongLink(report.longLink, options));
    else say(formatReport(report));
    say(`\nbench took ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (options.json) {
      fs.writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
      say(`JSON written to ${options.json}`);
    }
    return report.rows.length > 0 || (report.longLink?.length ?? 0) > 0 ? 0 : 1;
  } catch (err) {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await td.run();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
