import { expect } from 'chai';
import { cellWidth, fitCells, fitCellsEnd, padCellsStart } from '../../src/client/ui/cells';

describe('client screen: cell widths', () => {
  it('counts wide characters as two cells, combining marks and joiners as none', () => {
    expect(cellWidth('plain.txt')).to.equal(9);
    expect(cellWidth('名前 unicode ファイル.txt')).to.equal(25);
    expect(cellWidth('cafe\u0301')).to.equal(4);
    expect(cellWidth('🎉')).to.equal(2);
    expect(cellWidth('☕')).to.equal(2);
    expect(cellWidth('한국어')).to.equal(6);
    expect(cellWidth('ｱｲｳ')).to.equal(3);
    expect(cellWidth('Ωμέγα')).to.equal(5);
  });

  it('pads and cuts by cells, never splitting a wide character', () => {
    expect(fitCells('名前.txt', 10)).to.equal('名前.txt  ');
    expect(cellWidth(fitCells('名前 unicode ファイル.txt', 16))).to.equal(16);
    expect(fitCells('名前名前', 6)).to.equal('名前 ~');
    expect(fitCells('ab', 0)).to.equal('');
    expect(fitCellsEnd('/very/long/名前/path', 10)).to.equal('~名前/path');
    expect(cellWidth(fitCellsEnd('/very/long/名前/path', 10))).to.equal(10);
    expect(padCellsStart('1.2K', 6)).to.equal('  1.2K');
  });
});
