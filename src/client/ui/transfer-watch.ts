/**
 * Follows the transfer queue for the screen: says when a transfer resumes
 * (at its start), logs each outcome, sums up a queue when it has run dry,
 * offers to remove the partial file a quota refusal left behind, and asks
 * what to do when a destination holds another file.
 */
import { QuotaError } from '../errors';
import { formatBytes } from '../format';
import { remoteRoom } from '../remote-room';
import {
  describeOutcome,
  type ExistsChoice,
  type ExistsQuestion,
  type TransferJob,
} from '../transfer-queue';
import type { ScreenContext } from './context';
import type { Choice } from './dialogs';
import { jobName, type Where } from './transfers-view';

const EXISTS_CHOICES: ReadonlyArray<Choice<ExistsChoice>> = [
  { key: 'o', label: 'overwrite', value: 'overwrite' },
  { key: 'c', label: 'continue (resume)', value: 'resume' },
  { key: 's', label: 'skip', value: 'skip' },
  { key: 'r', label: 'rename (keep both)', value: 'rename' },
];

export class TransferWatch {
  private readonly logged = new Set<number>();
  private readonly announced = new Set<number>();
  /** Jobs ended since the queue last ran dry. */
  private ended: TransferJob[] = [];
  /** An answer given "for all", until the queue runs dry. */
  private existsForAll: ExistsChoice | undefined;

  constructor(private readonly ctx: ScreenContext) {
    const queue = ctx.session.queue;
    queue.checkRoom = true;
    queue.onExists = (job, question) => this.askExists(job, question);
    queue.on('change', (job) => this.onChange(job));
  }

  private where(): Where {
    return { localCwd: this.ctx.session.localCwd, remoteCwd: this.ctx.session.remoteCwd };
  }

  private name(job: TransferJob): string {
    return jobName(job, this.where());
  }

  /** The outcome line, naming the job as the screen does. */
  private outcome(job: TransferJob): string {
    const text = describeOutcome(job, false);
    const plain = `${job.direction} ${job.label}`;
    return text.startsWith(plain)
      ? `${job.direction} ${this.name(job)}${text.slice(plain.length)}`
      : text;
  }

  private onChange(job: TransferJob): void {
    const p = job.progress;
    if (job.state === 'running' && p && p.resumedFrom > 0 && !this.announced.has(job.id)) {
      this.announced.add(job.id);
      if (p.resumedFrom < p.total) {
        this.ctx.info(
          `${job.direction} ${this.name(job)}: resuming at ${formatBytes(p.resumedFrom)} ` +
            `of ${formatBytes(p.total)} (the start proven by MD5)`,
        );
      }
    }
    const ended = job.state !== 'running' && job.state !== 'queued';
    if (ended && !this.logged.has(job.id)) {
      this.logged.add(job.id);
      this.ended.push(job);
      if (job.state === 'done' || job.state === 'skipped') this.ctx.info(this.outcome(job));
      else this.ctx.error(this.outcome(job));
      if (job.state === 'failed' && job.error instanceof QuotaError) void this.offerRemoval(job);
      void this.ctx.refresh(job.direction === 'put' ? 'remote' : 'local');
      if (this.ctx.session.queue.pending() === 0) this.summarise();
    }
    this.ctx.render();
  }

  /** One line for the transfers since the queue last ran dry, when there were several or any failed. */
  private summarise(): void {
    const jobs = this.ended;
    this.ended = [];
    this.existsForAll = undefined;
    const count = (s: TransferJob['state']): number => jobs.filter((j) => j.state === s).length;
    const failed = jobs.filter((j) => j.state === 'failed');
    if (jobs.length < 2) return;
    const parts = [`${count('done')} done`];
    for (const s of ['skipped', 'cancelled'] as const)
      if (count(s) > 0) parts.push(`${count(s)} ${s}`);
    if (failed.length > 0) {
      const first = failed[0] as TransferJob;
      const reason = `${this.name(first)}: ${first.error?.message ?? 'unknown error'}`;
      parts.push(`${failed.length} failed: ${reason}${failed.length > 1 ? ', ...' : ''}`);
      this.ctx.error(`transfers ended: ${parts.join(', ')}`);
      this.ctx.info('failed transfers stay listed above until Ctrl-D dismisses them');
    } else this.ctx.info(`transfers ended: ${parts.join(', ')}`);
  }

  /** After a quota refusal: the bytes sent stay on the server; offer to remove them. */
  private async offerRemoval(job: TransferJob): Promise<void> {
    const sftp = this.ctx.session.sftp;
    const size = await sftp.stat(job.remotePath).then(
      (a) => a.size ?? 0,
      () => 0,
    );
    if (size === 0) {
      // An empty file keeps nothing worth resuming; it would only hold the name.
      const gone = await sftp.remove(job.remotePath).then(
        () => true,
        () => false,
      );
      if (gone) this.ctx.info(`${this.name(job)}: the empty file it left was removed`);
      return;
    }
    const name = this.name(job);
    this.ctx.info(
      `${name}: a partial file of ${formatBytes(size)} was kept on the server; ` +
        'a later put of the same file resumes it',
    );
    const remove = await this.ctx.confirm(
      `The server refused ${name}: ${job.error?.message ?? 'quota exceeded'}.\n\n` +
        `A partial file of ${formatBytes(size)} was kept on the server, so that a later ` +
        'put resumes it, but it counts against your quota.\n\nRemove the partial file now?',
    );
    if (!remove) return;
    try {
      await sftp.remove(job.remotePath);
      this.ctx.info(`${name}: the partial file was removed`);
      await this.ctx.refresh('remote');
    } catch (err) {
      this.ctx.error(`${name}: could not remove the partial file: ${(err as Error).message}`);
    }
  }

  /**
   * Overwrite, continue (resume), skip or rename; once the MD5-prefix rule
   * has refused the file, the same without continue. A "for all" answer
   * holds until the queue runs dry (continue only where it is offered).
   */
  private async askExists(job: TransferJob, q: ExistsQuestion): Promise<ExistsChoice> {
    const all = this.existsForAll;
    if (all && (q.resume || all !== 'resume')) return all;
    const name = `${job.direction} ${this.name(job)}`;
    let question: string;
    if (q.resume) {
      const where = job.direction === 'put' ? 'on the server' : 'here';
      question =
        `${name}: another file of that name is ${where} (${q.reason}).\n\n` +
        'Overwrite it, continue it (resume: only if its start is proven by MD5 to be ' +
        'this file), skip, or keep both (rename)?';
    } else {
      this.ctx.error(`${name}: ${q.reason}`);
      question = `${name}: ${q.reason}.\n\nOverwrite it, skip, or keep both (rename)?`;
    }
    const choices = q.resume ? EXISTS_CHOICES : EXISTS_CHOICES.filter((c) => c.value !== 'resume');
    const chosen = await this.ctx.choose(question, choices, 'skip', true);
    if (chosen.forAll) this.existsForAll = chosen.value;
    return chosen.value;
  }

  /** "[12.3M free of 1.05G]" for the remote pane's title, or "" when unknown. */
  async roomNote(): Promise<string> {
    const room = await remoteRoom(this.ctx.session.sftp, this.ctx.session.remoteCwd).catch(
      () => undefined,
    );
    if (!room || room.total <= 0) return '';
    // Three significant digits: a 1075 MiB quota shows as 1.05G, not 1G.
    const short = (n: number): string => formatBytes(n).replace(/ (.)i?B$/, '$1');
    return `[${short(room.free)} free of ${short(room.total)}]`;
  }
}
