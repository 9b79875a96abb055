import { expect } from 'chai';
import { clip } from '../../src/util/clip';

describe('clip', () => {
  it('cuts long client strings, saying how much was cut', () => {
    expect(clip('zhangsan')).to.equal('zhangsan');
    expect(clip('a'.repeat(64))).to.equal('a'.repeat(64));
    expect(clip('a'.repeat(5000))).to.equal(`${'a'.repeat(64)}…[cut, 4936 more characters]`);
  });

  it("replaces control characters, so a name cannot move the reader's cursor", () => {
    expect(clip('bob\x1b[2J\r\n')).to.equal('bob\ufffd[2J\ufffd\ufffd');
  });
});
