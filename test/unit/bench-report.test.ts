import { expect } from 'chai';
import { metricDefs } from '../../bench/metrics';
import { parseOptions, type BenchOptions } from '../../bench/options';
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
