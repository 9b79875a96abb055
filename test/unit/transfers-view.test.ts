/** The transfer lines of the client's screen. */
import { expect } from 'chai';
import type { TransferJob } from '../../src/client/transfer-queue';
import { cellWidth } from '../../src/client/ui/cells';
import { makeTheme } from '../../src/client/ui/theme';
import { jobName, transferLine } from '../../src/client/ui/transfers-view';

const job = (over: Partial<TransferJob>): TransferJob => ({
  id: 7,
  direction: 'put',
  localPath: '/home/me/docs/report.txt',
  remotePath: '/up/report.txt',
  force: false,
  label: 'report.txt',
  state: 'queued',
  progress: undefined,
  result: undefined,
  error: undefined,
  restarted: undefined,
  renamedTo: undefined,
  done: Promise.resolve({ total: 0, bytesSent: 0, resumedFrom: 0, md5: '', verified: true }),
  ...over,
});

describe('client screen: transfer lines', () => {
  const theme = makeTheme(256, {});
  const where = { localCwd: '/home/me', remoteCwd: '/up' };

  it('names the source relative to its pane, and the destination when it differs', () => {
    expect(jobName(job({}), where)).to.equal('docs/report.txt');
    expect(jobName(job({ remotePath: '/up/b.txt' }), where)).to.equal('docs/report.txt as b.txt');
    expect(jobName(job({ localPath: '/elsewhere/report.txt' }), where)).to.equal(
      '/elsewhere/report.txt',
    );
  });

  it('says received for downloads, and keeps the reason of a failure', () => {
    const get = job({
      direction: 'get',
      state: 'done',
      result: { total: 2048, bytesSent: 2048, resumedFrom: 0, md5: '', verified: true },
    });
    expect(transferLine(get, 80, theme, where)).to.match(/done, 2\.00 KiB received, MD5 verified/);
    const failed = job({ state: 'failed', error: new Error('quota exceeded') });
    const line = transferLine(failed, 80, theme, where);
    expect(line).to.match(/^#7 put docs\/report\.txt FAILED: quota exceeded/);
    expect(cellWidth(line)).to.equal(80);
  });

  it('says a transfer resumes while it runs', () => {
    const running = job({
      state: 'running',
      progress: {
        transferred: 3 * 1024 * 1024,
        total: 4 * 1024 * 1024,
        bytesPerSecond: 1024 * 1024,
        etaSeconds: 1,
        resumedFrom: 2 * 1024 * 1024,
      },
    });
    const line = transferLine(running, 120, theme, where);
    expect(line).to.include('75% 3.00 MiB/4.00 MiB 1.00 MiB/s');
    expect(line).to.include('resuming at 2.00 MiB');
  });
});
