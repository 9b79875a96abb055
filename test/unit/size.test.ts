import { expect } from 'chai';
import { formatSize, parseSize } from '../../src/config/size';

describe('config', () => {
  describe('parseSize', () => {
    const accepted: Array<[string | number, number]> = [
      ['1048576', 1048576],
      [1048576, 1048576],
      ['0', 0],
      [0, 0],
      ['unlimited', 0],
      ['Unlimited', 0],
      ['10K', 10 * 1024],
      ['10kb', 10 * 1024],
      ['500M', 500 * 1024 ** 2],
      ['500MB', 500 * 1024 ** 2],
      ['500 MiB', 500 * 1024 ** 2],
      ['1G', 1024 ** 3],
      ['1g', 1024 ** 3],
      ['1.5GiB', 1.5 * 1024 ** 3],
      ['2T', 2 * 1024 ** 4],
      ['512B', 512],
      [' 1G ', 1024 ** 3],
    ];
    for (const [input, bytes] of accepted) {
      it(`reads ${JSON.stringify(input)} as ${bytes}`, () => {
        expect(parseSize(input)).to.equal(bytes);
      });
    }

    const refused: Array<string | number> = ['lots', '', '1X', '1.5', 'M', '1GG', 1.5, NaN];
    for (const input of refused) {
      it(`refuses ${JSON.stringify(input)}`, () => {
        expect(() => parseSize(input)).to.throw(/^size must look like 500M or 1G, got /);
      });
    }

    it('quotes the text it refuses', () => {
      expect(() => parseSize('x')).to.throw("size must look like 500M or 1G, got 'x'");
    });

    it('says why a size that looks right is refused: negative, too large, under a byte', () => {
      expect(() => parseSize('-1')).to.throw("size cannot be negative, got '-1'");
      expect(() => parseSize('-2G')).to.throw("size cannot be negative, got '-2G'");
      expect(() => parseSize(-1)).to.throw('size cannot be negative, got -1');
      expect(() => parseSize('9999999T')).to.throw(
        "size is too large (the most is 8 PiB less a byte), got '9",
      );
      expect(() => parseSize(2 ** 60)).to.throw(
        'size is too large (the most is 8 PiB less a byte)',
      );
      // Not "unlimited": only a zero written as such means no limit.
      expect(() => parseSize('0.0001K')).to.throw("size is less than one byte, got '0.0001K'");
      expect(() => parseSize('8P')).to.throw('size is too large');
      expect(parseSize('1P')).to.equal(1024 ** 5);
      expect(parseSize('0.0K')).to.equal(0);
    });
  });

  describe('formatSize', () => {
    const table: Array<[number, string]> = [
      [0, '0 B'],
      [1, '1 B'],
      [1023, '1023 B'],
      [1024, '1 KiB'],
      [12.3 * 1024, '12.3 KiB'],
      [500 * 1024 ** 2, '500 MiB'],
      [1.5 * 1024 ** 3, '1.5 GiB'],
      [1024 ** 3, '1 GiB'],
      [1048575, '1 MiB'],
      [2 * 1024 ** 4, '2 TiB'],
    ];
    for (const [bytes, text] of table) {
      it(`writes ${bytes} as "${text}"`, () => {
        expect(formatSize(bytes)).to.equal(text);
      });
    }
  });
});
