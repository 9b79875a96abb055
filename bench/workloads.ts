/**
 * The workloads, each run against one server at a time with the stock
 * OpenSSH sftp client. Transfer times are taken inside the sftp batch (a
 * `!date` line before and after the transfer, written to a stamp file), so the
 * login and the client's start are not part of them; the logins workload is
 * the opposite and times whole client runs.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { median, type Metrics } from './metrics';
import { lastLines, type OpenSshClient } from './openssh-client';
import type { BenchOptions, WorkloadId } from './options';
import {
  cpuTicks,
  hwmBytes,
  resetHwm,
  RssSampler,
  ticksToSeconds,
  waitIdle,
  type ChildRegistry,
  type CommandResult,
} from './proc';
import type { BenchServer, FloorKind } from './servers';

export interface BenchContext {
  options: BenchOptions;
  client: OpenSshClient;
  children: ChildRegistry;
  /** Local source files. */
  files: { big: string; concurrent: string; smallDir: string };
  /** Local scratch directory for downloads and stamp files. */
  scratch: string;
  /** Lines for the report's notes. */
  notes: string[];
}

export interface Workload {
  id: WorkloadId;
  /** Runs against MiniFTP only. */
  miniftpOnly?: boolean;
  /** Also runs against the ssh2 floor of this kind (with --floor). */
  floor?: FloorKind;
  prepare?(ctx: BenchContext, server: BenchServer): Promise<void>;
  run(ctx: BenchContext, server: BenchServer, run: number): Promise<Metrics>;
  finish?(ctx: BenchContext, server: BenchServer): Promise<void>;
}

const MiB = 1024 * 1024;

export function ensureOk(r: CommandResult, what: string): void {
  if (r.code !== 0) {
    throw new Error(`${what} failed (exit ${r.code ?? r.signal}): ${lastLines(r.stderr)}`);
  }
}

/** sftp quotes names like a shell: double quotes keep spaces. */
export function q(p: string): string {
  return `"${p.replace(/(["\\])/g, '\\$1')}"`;
}

/** A stamp file, and the sftp batch line that appends the time (ns) to it. */
export function stampFile(ctx: BenchContext): { file: string; line: string } {
  const file = path.join(ctx.scratch, `stamps-${randomUUID()}`);
  return { file, line: `!date +%s%N >> ${file}` };
}

/** Stamps in milliseconds, in the order they were written. */
export function readStamps(file: string, expected: number): number[] {
  const stamps = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => /^\d+$/.test(l.trim()))
    .map((l) => Number(BigInt(l.trim()) / 1000n) / 1000);
  fs.rmSync(file, { force: true });
  if (stamps.length !== expected) {
    throw new Error(`expected ${expected} time stamps from the sftp batch, got ${stamps.length}`);
  }
  return stamps;
}

/** Runs `fn` while tracking the server's peak memory; returns it in MiB. */
export async function withPeakRss<T>(
  server: BenchServer,
  fn: () => Promise<T>,
): Promise<{ result: T; peakMiB: number }> {
  const hwmReset = server.hwmPid !== undefined && resetHwm(server.hwmPid);
  const sampler = new RssSampler(() => server.servingPids(), 50);
  sampler.start();
  let peak = 0;
  let result: T;
  try {
    result = await fn();
  } finally {
    peak = sampler.stop().peakBytes;
  }
  if (hwmReset && server.hwmPid !== undefined) peak = Math.max(peak, hwmBytes(server.hwmPid));
  return { result, peakMiB: peak / MiB };
}

export const mbPerSecond = (bytes: number, ms: number): number => bytes / (ms / 1000) / 1e6;

/** Checks the size of an uploaded file and removes it (nothing to check on the floor). */
export function checkUpload(
  server: BenchServer,
  name: string,
  expected: number,
  what: string,
): void {
  const disk = server.disk(name);
  if (disk === undefined) return;
  const size = fs.statSync(disk).size;
  fs.rmSync(disk, { force: true });
  if (size !== expected) throw new Error(`${what} left ${size} bytes on the server`);
}

export async function transferOne(
  ctx: BenchContext,
  server: BenchServer,
  command: string,
  what: string,
): Promise<number> {
  const stamp = stampFile(ctx);
  const r = await ctx.client.sftp(server.port, server.transferCreds, [
    stamp.line,
    command,
    stamp.line,
  ]);
  ensureOk(r, what);
  const [start, end] = readStamps(stamp.file, 2) as [number, number];
  return end - start;
}

const upload: Workload = {
  id: 'upload',
  floor: 'memory',
  async run(ctx, server, run) {
    const name = `up-${run}.bin`;
    const { result: ms, peakMiB } = await withPeakRss(server, () =>
      transferOne(ctx, server, `put ${q(ctx.files.big)} ${q(server.remote(name))}`, 'upload'),
    );
    checkUpload(server, name, ctx.options.bigBytes, 'the upload');
    return { upload: mbPerSecond(ctx.options.bigBytes, ms), 'upload-rss': peakMiB };
  },
};

/** The file the download workload fetches (the floor is started with one of this name). */
export const DOWNLOAD_SOURCE = 'dl-src.bin';

const download: Workload = {
  id: 'download',
  floor: 'memory',
  // A hard link of the local source: the same bytes, already in the page cache, no copy.
  // The floor was started with a file of that name and size.
  async prepare(ctx, server) {
    const disk = server.disk(DOWNLOAD_SOURCE);
    if (disk === undefined) return;
    fs.rmSync(disk, { force: true });
    fs.linkSync(ctx.files.big, disk);
  },
  async run(ctx, server, run) {
    const local = path.join(ctx.scratch, `dl-${server.name}-${run}.bin`);
    const { result: ms, peakMiB } = await withPeakRss(server, () =>
      transferOne(ctx, server, `get ${q(server.remote(DOWNLOAD_SOURCE))} ${q(local)}`, 'download'),
    );
    const size = fs.statSync(local).size;
    fs.rmSync(local, { force: true });
    if (size !== ctx.options.bigBytes) throw new Error(`download gave ${size} bytes`);
    return { download: mbPerSecond(ctx.options.bigBytes, ms), 'download-rss': peakMiB };
  },
  async finish(_ctx, server) {
    const disk = server.disk(DOWNLOAD_SOURCE);
    if (disk !== undefined) fs.rmSync(disk, { force: true });
  },
};

interface CpuSpent {
  /** The sftp and ssh processes of the run (the bench waited for both). */
  client: number;
  server: number;
}

/**
 * Runs `fn` (which runs one sftp client to its end) and returns the CPU time
 * in seconds it cost the client processes and the server, once the server is
 * idle again and sshd's session processes have ended.
 */
async function cpuSpent(server: BenchServer, fn: () => Promise<void>): Promise<CpuSpent> {
  const client0 = cpuTicks('self', true);
  const server0 = server.cpuTicks();
  await fn();
  const client1 = cpuTicks('self', true);
  await waitIdle(server.mainPid);
  // sshd's session processes count once they have ended (reaped by their parents).
  const sessionsLeft = (): boolean => server.servingPids().some((pid) => pid !== server.mainPid);
  for (let i = 0; i < 100 && sessionsLeft(); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    client: ticksToSeconds(client1 - client0),
    server: ticksToSeconds(server.cpuTicks() - server0),
  };
}

/**
 * The small-files transfers go one request at a time, each waiting for its
 * reply, so the client's own CPU time is a floor under the whole time. What a
 * run costs apart from the transfers (login, key exchange, the `!date` lines)
 * is measured by the same batch without them, per server, and taken off.
 */
const smallFilesOverhead = new Map<string, CpuSpent>();

async function smallFilesBatch(
  ctx: BenchContext,
  server: BenchServer,
  transfers: string[],
): Promise<{ stamps: number[]; cpu: CpuSpent }> {
  const stamp = stampFile(ctx);
  const lines = [stamp.line, ...transfers.flatMap((t) => [t, stamp.line])];
  let result: CommandResult | undefined;
  const cpu = await cpuSpent(server, async () => {
    result = await ctx.client.sftp(server.port, server.transferCreds, lines);
  });
  ensureOk(result as CommandResult, transfers.length > 0 ? 'put -r / get -r' : 'sftp login');
  return { stamps: readStamps(stamp.file, lines.length - transfers.length), cpu };
}

/** Where run `run` puts its files: the server's directory name, and the local one get -r fills. */
function smallFilesDirs(
  ctx: BenchContext,
  server: BenchServer,
  run: number | 'warm-up',
): { name: string; local: string } {
  return { name: `small-${run}`, local: path.join(ctx.scratch, `small-${server.name}-${run}`) };
}

/** put -r, then get -r of the same directory, in one batch. */
function smallFilesTransfers(
  ctx: BenchContext,
  server: BenchServer,
  run: number | 'warm-up',
): Promise<{ stamps: number[]; cpu: CpuSpent }> {
  const { name, local } = smallFilesDirs(ctx, server, run);
  // OpenSSH's put -r creates the missing target directory and uploads into it; get -r likewise.
  return smallFilesBatch(ctx, server, [
    `put -r ${q(ctx.files.smallDir)} ${q(server.remote(name))}`,
    `get -r ${q(server.remote(name))} ${q(local)}`,
  ]);
}

const smallFiles: Workload = {
  id: 'small-files',
  floor: 'disk',
  async prepare(ctx, server) {
    // One untimed round first: MiniFTP's JavaScript is compiled while it
    // runs, and a server that has been up a while has long done that.
    await smallFilesTransfers(ctx, server, 'warm-up');
    const runs: CpuSpent[] = [];
    for (let i = 0; i < 3; i++) runs.push((await smallFilesBatch(ctx, server, [])).cpu);
    smallFilesOverhead.set(server.name, {
      client: median(runs.map((c) => c.client)) ?? 0,
      server: median(runs.map((c) => c.server)) ?? 0,
    });
  },
  async run(ctx, server, run) {
    const { name, local } = smallFilesDirs(ctx, server, run);
    const { stamps, cpu } = await smallFilesTransfers(ctx, server, run);
    const [a, b, c] = stamps as [number, number, number];
    const overhead = smallFilesOverhead.get(server.name) ?? { client: 0, server: 0 };
    const got = fs.readdirSync(local).length;
    const disk = server.disk(name);
    const put = disk === undefined ? ctx.options.smallFiles : fs.readdirSync(disk).length;
    if (got !== ctx.options.smallFiles || put !== ctx.options.smallFiles) {
      throw new Error(`put -r left ${put} files on the server, get -r fetched ${got}`);
    }
    return {
      'put-r': (b - a) / 1000,
      'get-r': (c - b) / 1000,
      'small-client-cpu': Math.max(0, cpu.client - overhead.client),
      'small-server-cpu': Math.max(0, cpu.server - overhead.server),
    };
  },
  // Removed only now, not after each run: ext4 (without a journal, as here)
  // will not reuse an inode deleted in the last minute, and a create then
  // scans past every such inode of the directory's group. That made each
  // server's put -r, and the client's get -r, pay up to about 0.4 ms a file
  // in the kernel for the run before it.
  async finish(ctx, server) {
    const runs = Array.from({ length: ctx.options.runs }, (_, i) => i);
    for (const run of ['warm-up' as const, ...runs]) {
      const { name, local } = smallFilesDirs(ctx, server, run);
      fs.rmSync(local, { recursive: true, force: true });
      const disk = server.disk(name);
      if (disk !== undefined) fs.rmSync(disk, { recursive: true, force: true });
    }
  },
};

const logins: Workload = {
  id: 'logins',
  async run(ctx, server) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < ctx.options.logins; i++) {
      ensureOk(await ctx.client.sftp(server.port, server.loginCreds, ['ls']), 'login');
    }
    return { logins: Number(process.hrtime.bigint() - started) / 1e9 };
  },
};

const concurrent: Workload = {
  id: 'concurrent',
  floor: 'memory',
  async run(ctx, server, run) {
    const n = ctx.options.concurrentClients;
    const names = Array.from({ length: n }, (_, i) => `conc-${run}-${i}.bin`);
    const { result: stamps, peakMiB } = await withPeakRss(server, () =>
      Promise.all(
        names.map(async (name) => {
          const stamp = stampFile(ctx);
          const r = await ctx.client.sftp(server.port, server.transferCreds, [
            stamp.line,
            `put ${q(ctx.files.concurrent)} ${q(server.remote(name))}`,
            stamp.line,
          ]);
          ensureOk(r, 'concurrent upload');
          return readStamps(stamp.file, 2) as [number, number];
        }),
      ),
    );
    for (const name of names)
      checkUpload(server, name, ctx.options.concurrentBytes, 'a concurrent upload');
    // From the first transfer's start to the last one's end: logins at the edges are left out.
    const span = Math.max(...stamps.map((s) => s[1])) - Math.min(...stamps.map((s) => s[0]));
    return {
      concurrent: mbPerSecond(n * ctx.options.concurrentBytes, span),
      'concurrent-rss': peakMiB,
    };
  },
};

export const WORKLOADS: Workload[] = [upload, download, smallFiles, logins, concurrent];
