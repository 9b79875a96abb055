import { expect } from 'chai';
import { formatBytes, formatEta, formatRate, formatSizeShort } from '../../src/client/format';

describe('client formats', () => {
  it('formats sizes, rates and times', () => {
    expect(formatBytes(512)).to.equal('512 B');
    expect(formatBytes(9 * 1024 * 1024)).to.equal('9.00 MiB');
    expect(formatSizeShort(1536)).to.equal('1.5K');
    expect(formatSizeShort(24 * 1024 * 1024)).to.equal('24M');
    expect(formatRate(80 * 1024 * 1024)).to.equal('80.0 MiB/s');
    expect(formatEta(null)).to.equal('--:--');
    expect(formatEta(3723)).to.equal('1:02:03');
  });
});

describe('client screen: units', () => {
  it('gives sizes three significant digits and rates the same binary units', () => {
    expect(formatBytes(1075 * 1024 * 1024)).to.equal('1.05 GiB');
    expect(formatBytes(1023 * 1024)).to.equal('1023 KiB');
    expect(formatBytes(1024 * 1024 - 1)).to.equal('1.00 MiB');
    expect(formatBytes(123 * 1024 * 1024)).to.equal('123 MiB');
    expect(formatRate(500)).to.equal('500 B/s');
    expect(formatRate(1.5 * 1024 * 1024)).to.equal('1.50 MiB/s');
  });
});
