/** What the bench reports, and the bar each figure is held to. */
import { sizeLabel, type BenchOptions } from './options';

export const METRIC_IDS = [
  'upload',
  'upload-rss',
  'download',
  'download-rss',
  'put-r',
  'get-r',
  'small-client-cpu',
  'small-server-cpu',
  'logins',
  'concurrent',
  'concurrent-rss',
  'resume',
] as const;
export type MetricId = (typeof METRIC_IDS)[number];
export type Metrics = Partial<Record<MetricId, number>>;

export type Bar =
  /** MiniFTP / OpenSSH must be at least this. */
  | { kind: 'ratio-min'; value: number }
  /** MiniFTP / OpenSSH must be at most this. */
  | { kind: 'ratio-max'; value: number }
  /** MiniFTP's own figure must be at most this. */
  | { kind: 'miniftp-max'; value: number };

export interface MetricDef {
  id: MetricId;
  label: string;
  unit: 'MB/s' | 's' | 'MiB' | 'ms';
  better: 'higher' | 'lower';
  bar: Bar | undefined;
  /** Measured on MiniFTP only (no OpenSSH counterpart). */
  miniftpOnly?: boolean;
}

export function metricDefs(o: BenchOptions): MetricDef[] {
  const big = sizeLabel(o.bigBytes);
  const each = sizeLabel(o.concurrentBytes);
  const files = `${o.smallFiles} × ${sizeLabel(o.smallFileBytes)}`;
  return [
    {
      id: 'upload',
      label: `upload ${big}`,
      unit: 'MB/s',
      better: 'higher',
      bar: { kind: 'ratio-min', value: 1.5 },
    },
    {
      id: 'download',
      label: `download ${big}`,
      unit: 'MB/s',
      better: 'higher',
      bar: { kind: 'ratio-min', value: 1.3 },
    },
    {
      id: 'put-r',
      label: `put -r ${files}`,
      unit: 's',
      better: 'lower',
      bar: { kind: 'ratio-max', value: 0.8 },
    },
    {
      id: 'get-r',
      label: `get -r ${files}`,
      unit: 's',
      better: 'lower',
      bar: { kind: 'ratio-max', value: 0.8 },
    },
    {
      id: 'small-client-cpu',
      label: `client CPU, put -r + get -r`,
      unit: 's',
      better: 'lower',
      bar: undefined,
    },
    {
      id: 'small-server-cpu',
      label: `server CPU, put -r + get -r`,
      unit: 's',
      better: 'lower',
      bar: undefined,
    },
    {
      id: 'logins',
      label: `${o.logins} logins + ls`,
      unit: 's',
      better: 'lower',
      bar: { kind: 'ratio-max', value: 0.5 },
    },
    {
      id: 'concurrent',
      label: `${o.concurrentClients} × ${each} upload, aggregate`,
      unit: 'MB/s',
      better: 'higher',
      bar: { kind: 'ratio-min', value: 1.3 },
    },
    {
      id: 'upload-rss',
      label: `peak RSS, upload ${big}`,
      unit: 'MiB',
      better: 'lower',
      bar: { kind: 'miniftp-max', value: 160 },
    },
    {
      id: 'download-rss',
      label: `peak RSS, download ${big}`,
      unit: 'MiB',
      better: 'lower',
      bar: { kind: 'miniftp-max', value: 160 },
    },
    {
      id: 'concurrent-rss',
      label: `peak RSS, ${o.concurrentClients} clients`,
      unit: 'MiB',
      better: 'lower',
      bar: { kind: 'miniftp-max', value: 300 },
    },
    {
      id: 'resume',
      label: `resume-upload check at ~60% of ${big}`,
      unit: 'ms',
      better: 'lower',
      bar: { kind: 'miniftp-max', value: 50 },
      miniftpOnly: true,
    },
  ];
}

export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export type Verdict = 'PASS' | 'MISS' | 'n/a';

export function verdict(
  bar: Bar | undefined,
  miniftp: number | undefined,
  ratio: number | undefined,
): Verdict {
  if (!bar) return 'n/a';
  switch (bar.kind) {
    case 'ratio-min':
      return ratio === undefined ? 'n/a' : ratio >= bar.value ? 'PASS' : 'MISS';
    case 'ratio-max':
      return ratio === undefined ? 'n/a' : ratio <= bar.value ? 'PASS' : 'MISS';
    case 'miniftp-max':
      return miniftp === undefined ? 'n/a' : miniftp <= bar.value ? 'PASS' : 'MISS';
  }
}

export function barText(bar: Bar | undefined, unit: string): string {
  if (!bar) return '';
  switch (bar.kind) {
    case 'ratio-min':
      return `ratio ≥ ${bar.value}`;
    case 'ratio-max':
      return `ratio ≤ ${bar.value}`;
    case 'miniftp-max':
      return `MiniFTP ≤ ${bar.value} ${unit}`;
  }
}

/** The nearest-rank `p`th percentile (95: the value 95 % of the samples are at or below). */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}
