import { expect } from 'chai';
import { metricDefs, percentile } from '../../bench/metrics';
import { parseOptions, UsageError, type BenchOptions } from '../../bench/options';
import { buildRows, formatReport, type BenchReport } from '../../bench/report';

describe('bench report with the ssh2 floor', () => {
  const options = parseOptions(['--floor']) as BenchOptions;
  const rows = buildRows(metricDefs(options), {
    miniftp: [{ 'put-r': 0.7, 'upload-rss': 140 }],
    openssh: [{ 'put-r': 0.5, 'upload-rss': 20 }],
    floor: [{ 'put-r': 0.45, 'upload-rss': 90 }],
  });

  it('holds the floor to the same bar as MiniFTP, against OpenSSH', () => {
    const put = rows.find((r) => r.id === 'put-r');
    expect(put?.floorRatio).to.be.closeTo(0.9, 1e-9);
    expect(put?.floorVerdict).to.equal('MISS');
    expect(put?.verdict).to.equal('MISS');
  });

  it('gives the floor no verdict on a memory bar, which is MiniFTP’s own figure', () => {
    expect(rows.find((r) => r.id === 'upload-rss')?.floorVerdict).to.equal('n/a');
  });

  it('adds the floor columns only when a floor was measured', () => {
    const report: BenchReport = {
      date: '2026-11-26T00:00:00.000Z',
      mode: 'full',
      runs: 1,
      machine: {
        cpu: 'cpu',
        cores: 2,
        memoryGiB: 4,
        kernel: 'Linux',
        loadAverageAtStart: [0, 0, 0],
        loadAverageAtEnd: [0, 0, 0],
      },
      versions: {},
      servers: [],
      rows,
      notes: [],
    };
    const withFloor = formatReport(report);
    expect(withFloor).to.match(/ssh2 floor +floor\/O +floor meets bar/);
    expect(withFloor).to.match(/put -r .* 0\.90× +NO/);
    const without = formatReport({
      ...report,
      rows: buildRows(metricDefs(options), {
        miniftp: [{ 'put-r': 0.7 }],
        openssh: [{ 'put-r': 0.5 }],
      }),
    });
    expect(without).to.not.include('ssh2 floor');
  });
});

describe('bench options and figures of --balancer', () => {
  it('takes --runs, --quick, --cipher and --json, and refuses the options it would not read', () => {
    const o = parseOptions(['--balancer', '--quick', '--runs', '2', '--json', 'out.json']);
    expect(o).to.include({ balancer: true, quick: true, runs: 2, logins: 10 });
    for (const extra of [['--rtt', '50'], ['--size', '2G'], ['--only', 'logins'], ['--floor']]) {
      expect(() => parseOptions(['--balancer', ...extra]), extra.join(' '))
        .to.throw(UsageError)
        .with.property('message')
        .that.includes(extra[0]);
    }
    expect(parseOptions(['--rtt', '50', '--size', '2G'])).to.include({ balancer: false });
  });

  it('takes the nearest-rank p95 of the login times', () => {
    const fifty = Array.from({ length: 50 }, (_, i) => 50 - i);
    expect(percentile(fifty, 95)).to.equal(48);
    expect(percentile([7], 95)).to.equal(7);
    expect(percentile([], 95)).to.equal(undefined);
  });
});
