/**
 * The transfer area: one line per transfer with its number, a bar, percent,
 * bytes, rate and time left. Failed transfers stay, with their reason, until
 * dismissed; then come the running, the queued and the latest finished.
 */
import * as path from 'node:path';
import * as blessed from 'blessed';
import { formatBytes, formatEta, formatRate, percent } from '../format';
import type { TransferJob } from '../transfer-queue';
import { cellWidth, fitCells } from './cells';
import { tag, type Theme } from './theme';

/** A bar of `width` cells, `pct` percent full. */
export function bar(pct: number, width: number, theme: Theme): string {
  const full = Math.round((pct / 100) * width);
  return theme.barFull.repeat(full) + theme.barEmpty.repeat(Math.max(0, width - full));
}

/** The folders names are shown relative to: the panes' folders. */
export interface Where {
  localCwd: string;
  remoteCwd: string;
}

function relative(lib: path.PlatformPath, from: string, to: string): string {
  const rel = lib.relative(from, to);
  return rel === '' || rel.startsWith('..') || lib.isAbsolute(rel) ? to : rel;
}

/**
 * How a job is named on screen: its source relative to the source pane's
 * folder, and " as NAME" when the destination's name differs from the source's.
 */
export function jobName(job: TransferJob, where?: Where): string {
  if (job.shownAs !== undefined) return job.shownAs;
  const put = job.direction === 'put';
  const src = put ? job.localPath : job.remotePath;
  const dst = put ? job.remotePath : job.localPath;
  const srcLib = put ? path : path.posix;
  const dstLib = put ? path.posix : path;
  const shown = where ? relative(srcLib, put ? where.localCwd : where.remoteCwd, src) : job.label;
  const to = dstLib.basename(dst);
  return to === srcLib.basename(src) ? shown : `${shown} as ${to}`;
}

/** The sizes moved by a finished job: "3.00 MiB sent", "8 B received". */
function moved(job: TransferJob): string {
  const r = job.result;
  if (!r) return '';
  const verb = job.direction === 'put' ? 'sent' : 'received';
  const resumed = r.resumedFrom > 0 ? ` (resumed at ${formatBytes(r.resumedFrom)})` : '';
  return `${formatBytes(r.bytesSent)} ${verb}${resumed}`;
}

/** One transfer's line, `width` cells wide (without tags). */
export function transferLine(job: TransferJob, width: number, theme: Theme, where?: Where): string {
  // A running line needs room for its bar and numbers; the others for a few words.
  const nameRoom = Math.max(8, job.state === 'running' ? Math.min(40, width - 60) : width - 45);
  const head = `#${job.id} ${job.direction} ${fitCells(jobName(job, where), nameRoom).trimEnd()}`;
  const p = job.progress;
  switch (job.state) {
    case 'queued':
      return fitCells(`${head} queued`, width);
    case 'failed':
      return fitCells(`${head} FAILED: ${job.error?.message ?? ''}`, width);
    case 'cancelled':
      return fitCells(`${head} cancelled`, width);
    case 'skipped':
      return fitCells(`${head} skipped, the destination was kept`, width);
    case 'done': {
      const r = job.result;
      if (r && r.bytesSent === 0 && r.resumedFrom === r.total && r.total > 0) {
        return fitCells(`${head} already there (same MD5), nothing sent`, width);
      }
      const check = r?.verified ? 'MD5 verified' : 'not verified';
      return fitCells(`${head} done, ${moved(job)}, ${check}`, width);
    }
    case 'running': {
      if (!p) return fitCells(`${head} starting`, width);
      const pct = percent(p.transferred, p.total);
      const resuming = p.resumedFrom > 0 ? ` resuming at ${formatBytes(p.resumedFrom)}` : '';
      const info =
        ` ${String(pct).padStart(3)}% ${formatBytes(p.transferred)}/${formatBytes(p.total)}` +
        ` ${formatRate(p.bytesPerSecond)} ETA ${formatEta(p.etaSeconds)}${resuming}`;
      const barWidth = Math.max(5, width - cellWidth(head) - info.length - 3);
      return fitCells(`${head} [${bar(pct, barWidth, theme)}]${info}`, width);
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
   * Failed first (they stay until dismissed), then running, queued and the
   * latest finished: as many as fit. When more wait than fit, the last line counts them.
   */
  render(jobs: readonly TransferJob[], where?: Where, paused = false): void {
    const rows = Math.max(1, this.box.height as number);
    // One cell short of the edge: a line that fills it exactly is wrapped by blessed.
    const width = Math.max(10, (this.box.width as number) - 1);
    const failed = jobs.filter((j) => j.state === 'failed').reverse();
    const running = jobs.filter((j) => j.state === 'running');
    const queued = jobs.filter((j) => j.state === 'queued');
    const ended = jobs
      .filter((j) => j.state !== 'running' && j.state !== 'queued' && j.state !== 'failed')
      .reverse();
    let shown = [...failed, ...running, ...queued, ...ended];
    const important = failed.length + running.length + queued.length;
    let more = '';
    if (important > rows) {
      const fitting = rows - 1;
      shown = shown.slice(0, fitting);
      const hidden = important - fitting;
      more = `... and ${hidden} more (${failed.length} failed, ${queued.length} queued)`;
    } else shown = shown.slice(0, rows);
    const lines = shown.map((j) => {
      const text = blessed.escape(transferLine(j, width, this.theme, where));
      if (j.state === 'failed') return tag(this.theme.errorTag, text);
      if (j.state === 'done') return tag(this.theme.okTag, text);
      return text;
    });
    if (more) lines.push(more);
    if (paused && lines.length < rows) lines.push('the queue is paused: Ctrl-P goes on');
    if (lines.length === 0)
      lines.push(tag(this.theme.dimTag, 'No transfers yet: F5 copies the selection.'));
    this.box.setContent(lines.join('\n'));
  }
}
