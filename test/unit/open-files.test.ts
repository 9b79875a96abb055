/** How the open-files limit is read from /proc and raised. */
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import {
  parseOpenFilesLimit,
  raiseOpenFilesLimit,
  readOpenFilesLimit,
} from '../../src/main/open-files';

describe('open-files limit', function () {
  const limits = (soft: string, hard: string): string =>
    [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max processes             95432                95432                processes ',
      `Max open files            ${soft.padEnd(20)} ${hard.padEnd(20)} files     `,
      'Max locked memory         8388608              8388608              bytes     ',
    ].join('\n');

  it('reads the soft and hard limits from /proc/<pid>/limits', function () {
    expect(parseOpenFilesLimit(limits('1024', '4096'))).to.deep.equal({ soft: 1024, hard: 4096 });
    expect(parseOpenFilesLimit(limits('1024', 'unlimited'))).to.deep.equal({
      soft: 1024,
      hard: Infinity,
    });
    expect(parseOpenFilesLimit('Max processes 1 1 processes')).to.equal(undefined);
  });

  it('raises a soft limit below the hard one to it, with util-linux prlimit', function () {
    const now = readOpenFilesLimit();
    if (process.platform !== 'linux' || !Number.isFinite(now.hard)) this.skip();
    // One below the hard limit: this process holds far fewer descriptors.
    try {
      execFileSync('prlimit', [
        '--pid',
        String(process.pid),
        `--nofile=${now.hard - 1}:${now.hard}`,
      ]);
    } catch {
      this.skip();
    }
    expect(readOpenFilesLimit().soft).to.equal(now.hard - 1);
    const raised = raiseOpenFilesLimit();
    expect(raised).to.deep.equal({ soft: now.hard, hard: now.hard, before: now.hard - 1 });
    expect(readOpenFilesLimit().soft).to.equal(now.hard);
  });

  it("finds this process's limit, the soft one raised to the hard one by Node.js", function () {
    if (process.platform !== 'linux') this.skip();
    const now = readOpenFilesLimit();
    expect(now.soft).to.be.greaterThan(0);
    // Node.js raises the soft limit to the hard one, or as far as it can below "unlimited".
    if (Number.isFinite(now.hard)) expect(now.soft).to.equal(now.hard);
  });
});
