/** The transfer area: one line per transfer with a bar, percent, bytes, rate and time left. */
import * as blessed from 'blessed';
import { formatBytes, formatEta, formatRate, percent } from '../format';
import type { TransferJob } from '../transfer-queue';
import { fit } from './file-pane';
import { tag, type Theme } from './theme';

/** A bar of `width` cells, `pct` percent full. */
export function bar(pct: number, width: number, theme: Theme): string {
  const full = Math.round((pct / 100) * width);
  return theme.barFull.repeat(full) + theme.barEmpty.repeat(Math.max(0, width - full));
}

/** One transfer's line, `width` columns wide (without tags). */
export function transferLine(job: TransferJob, width: number, theme: Theme): string {
  const head = `${job.direction} ${fit(job.label, Math.min(18, Math.max(8, width - 60)))}`;
  const p = job.progress;
  switch (job.state) {
    case 'queued':
      return fit(`${head} queued`, width);
    case 'failed':
      return fit(`${head} failed: ${job.error?.message ?? ''}`, width);
    case 'cancelled':
      return fit(`${head} cancelled`, width);
    case 'done': {
      const r = job.result;
      if (r && r.bytesSent === 0 && r.resumedFrom === r.total && r.total > 0) {
        return fit(`${head} already there (same MD5), nothing sent`, width);
      }
      const sent = r ? formatBytes(r.bytesSent) : '';
      const resumed = r && r.resumedFrom > 0 ? ` (resumed at ${formatBytes(r.resumedFrom)})` : '';
      const check = r?.verified ? 'MD5 verified' : 'not verified';
      return fit(`${head} done, ${sent} sent${resumed}, ${check}`, width);
    }
    case 'running': {
      if (!p) return fit(`${head} starting`, width);
      const pct = percent(p.transferred, p.total);
      const info =
        ` ${String(pct).padStart(3)}% ${formatBytes(p.transferred)}/${formatBytes(p.total)}` +
        ` ${formatRate(p.bytesPerSecond)} ETA ${formatEta(p.etaSeconds)}`;
      const barWidth = Math.max(5, width - [...head].length - info.length - 3);
      return fit(`${head} [${bar(pct, barWidth, theme)}]${info}`, width);
    }
  }
}

export class TransfersView {
  readonly box: blessed.Widgets.BoxElement;

  constructor(
    screen: blessed.Widgets.Screen,
    private readonly theme: Theme,
  ) {
    this.box = blessed.box({ parent: screen, tags: true });
  }

  /**
   * Running first, then queued, then the latest finished: as many as fit.
   * When more wait than fit, the last line counts them.
   */
  render(jobs: readonly TransferJob[]): void {
    const rows = Math.max(1, this.box.height as number);
    const width = Math.max(10, this.box.width as number);
    const running = jobs.filter((j) => j.state === 'running');
    const queued = jobs.filter((j) => j.state === 'queued');
    const ended = jobs.filter((j) => j.state !== 'running' && j.state !== 'queued').reverse();
    let shown = [...running, ...queued, ...ended];
    let more = '';
    if (running.length + queued.length > rows) {
      const fitting = rows - 1;
      shown = shown.slice(0, fitting);
      more = `... and ${running.length + queued.length - fitting} more queued`;
    } else shown = shown.slice(0, rows);
    const lines = shown.map((j) => {
      const text = blessed.escape(transferLine(j, width, this.theme));
      if (j.state === 'failed') return tag(this.theme.errorTag, text);
      if (j.state === 'done') return tag(this.theme.okTag, text);
      return text;
    });
    if (more) lines.push(more);
    if (lines.length === 0)
      lines.push(tag(this.theme.dimTag, 'No transfers yet: F5 copies the selection.'));
    this.box.setContent(lines.join('\n'));
  }
}
