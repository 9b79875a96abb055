/** The bench's results: medians, ratios, verdicts, the machine, and the printed table. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import {
  barText,
  median,
  verdict,
  type MetricDef,
  type MetricId,
  type Metrics,
  type Verdict,
} from './metrics';
import type { LongLinkRow } from './long-link';
import type { Negotiated } from './openssh-client';

export interface ServerInfo {
  name: string;
  banner: string;
  transferAuth: string;
  loginAuth: string;
  negotiated: Negotiated | undefined;
  rssMethod: string;
}

export interface Row {
  id: MetricId;
  label: string;
  unit: string;
  /** Which direction of both the figures and the ratio is better. */
  better: 'higher' | 'lower';
  miniftp: number | undefined;
  openssh: number | undefined;
  /** MiniFTP / OpenSSH. */
  ratio: number | undefined;
  bar: string;
  verdict: Verdict;
  /** The ssh2 floor's figure (with --floor), and floor / OpenSSH. */
  floor?: number;
  floorRatio?: number;
  /** Whether the floor itself meets the bar (ratio bars only). */
  floorVerdict?: Verdict;
  runs: { miniftp: number[]; openssh: number[]; floor?: number[] };
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
}

export interface BenchReport {
  date: string;
  mode: 'quick' | 'full';
  runs: number;
  machine: Machine;
  versions: Record<string, string>;
  servers: ServerInfo[];
  rows: Row[];
  notes: string[];
  /** The long-link runs (--rtt), when they ran instead of the workloads. */
  longLink?: LongLinkRow[];
}

export function machineInfo(): Omit<Machine, 'loadAverageAtEnd'> {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpu = m[1].trim();
  } catch {
    // Not Linux: os.cpus() is the next best.
  }
  return {
    cpu,
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    kernel: `${os.type()} ${os.release()}`,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** Rows from the runs each server produced, in the order of `defs`. */
export function buildRows(
  defs: MetricDef[],
  runs: { miniftp: Metrics[]; openssh: Metrics[]; floor?: Metrics[] },
): Row[] {
  const rows: Row[] = [];
  for (const def of defs) {
    const values = (list: Metrics[]): number[] =>
      list.map((m) => m[def.id]).filter((v): v is number => v !== undefined);
    const m = values(runs.miniftp);
    const o = values(runs.openssh);
    if (m.length === 0 && o.length === 0) continue;
    const mm = median(m);
    const om = median(o);
    const ratio = mm !== undefined && om !== undefined && om > 0 ? mm / om : undefined;
    const row: Row = {
      id: def.id,
      label: def.label,
      unit: def.unit,
      better: def.better,
      miniftp: mm,
      openssh: om,
      ratio,
      bar: barText(def.bar, def.unit),
      verdict: verdict(def.bar, mm, ratio),
      runs: { miniftp: m, openssh: o },
    };
    const f = values(runs.floor ?? []);
    const fm = median(f);
    if (fm !== undefined) {
      const floorRatio = om !== undefined && om > 0 ? fm / om : undefined;
      row.floor = fm;
      row.floorRatio = floorRatio;
      // A memory bar is MiniFTP's own figure; the floor keeps no files, so it says nothing there.
      row.floorVerdict = def.bar?.kind === 'miniftp-max' ? 'n/a' : verdict(def.bar, fm, floorRatio);
      row.runs.floor = f;
    }
    rows.push(row);
  }
  return rows;
}

function figure(value: number | undefined, unit: string): string {
  if (value === undefined) return '—';
  const digits = unit === 's' ? 2 : 1;
  return `${value.toFixed(digits)} ${unit}`;
}

function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function formatReport(r: BenchReport): string {
  const out: string[] = [];
  out.push(
    `MiniFTP vs OpenSSH sshd (internal-sftp), ${r.mode === 'quick' ? 'QUICK run (sizes / 16, fewer files and logins)' : 'full run'}, median of ${r.runs} run(s) each, ${r.date}`,
  );
  out.push(
    `machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, ${r.machine.kernel}; ` +
      `load average ${r.machine.loadAverageAtStart.join(' ')} at start, ${r.machine.loadAverageAtEnd.join(' ')} at end`,
  );
  out.push(
    `versions: ${Object.entries(r.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}`,
  );
  for (const s of r.servers) {
    const n = s.negotiated;
    out.push(
      `${s.name}: ${s.banner}; ${n ? `kex ${n.kex}, cipher ${n.cipher}, MAC ${n.mac}` : 'negotiation unknown'}; ` +
        `transfers: ${s.transferAuth}; logins: ${s.loginAuth}`,
    );
  }
  out.push('');
  const ratioText = (ratio: number | undefined): string =>
    ratio === undefined ? '—' : `${ratio.toFixed(2)}×`;
  const withFloor = r.rows.some((row) => row.floor !== undefined);
  out.push(
    table(
      [
        'workload',
        'MiniFTP',
        'OpenSSH',
        'ratio M/O',
        'better',
        'bar',
        'result',
        ...(withFloor ? ['ssh2 floor', 'floor/O', 'floor meets bar'] : []),
      ],
      r.rows.map((row) => [
        row.label,
        figure(row.miniftp, row.unit),
        figure(row.openssh, row.unit),
        ratioText(row.ratio),
        row.better,
        row.bar,
        row.verdict === 'n/a' ? '' : row.verdict,
        ...(withFloor
          ? row.floor === undefined
            ? ['', '', '']
            : [
                figure(row.floor, row.unit),
                ratioText(row.floorRatio),
                row.floorVerdict === 'PASS' ? 'yes' : row.floorVerdict === 'MISS' ? 'NO' : '',
              ]
          : []),
      ]),
    ),
  );
  out.push('');
  out.push(
    'ratio = MiniFTP / OpenSSH: higher is better for MB/s, lower is better for times and memory. ' +
      'MB = 10^6 bytes; RSS in MiB.',
  );
  if (withFloor) {
    out.push(
      'ssh2 floor = an ssh2 server set up as MiniFTP is (AES-GCM, no-delay, limits@openssh.com) that does the least ' +
        'an SFTP server can (bench/floor-server.ts): for the big transfers and 8 clients it answers from memory and ' +
        'touches no file; for the small files it writes and reads them on disk, one blocking system call per request, ' +
        'with no checks. No server built on ssh2 does better on this machine: "floor meets bar" NO means the bar is ' +
        'out of reach of ssh2 here.',
    );
  }
  for (const note of r.notes) out.push(`note: ${note}`);
  return out.join('\n');
}
