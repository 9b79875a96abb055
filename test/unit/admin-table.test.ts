import { expect } from 'chai';
import { formatFields, formatTable } from '../../src/admin/table';

describe('admin console tables', () => {
  it('aligns columns two spaces apart, right-aligning where asked, without trailing blanks', () => {
    const text = formatTable(
      [{ header: 'NAME' }, { header: 'USED', align: 'right' }, { header: 'STATE' }],
      [
        ['bob', '1.5 GiB', 'active'],
        ['zhangsan', '0 B', ''],
      ],
    );
    expect(text.split('\n')).to.deep.equal([
      'NAME         USED  STATE',
      'bob       1.5 GiB  active',
      'zhangsan      0 B',
    ]);
  });

  it('is just the header when there are no rows', () => {
    expect(formatTable([{ header: 'ID' }, { header: 'USER' }], [])).to.equal('ID  USER');
  });

  it('counts characters, not UTF-16 units, when padding', () => {
    const text = formatTable(
      [{ header: 'C' }, { header: 'X' }],
      [
        ['𝔸', 'a'],
        ['ab', 'b'],
      ],
    );
    expect(text.split('\n')).to.deep.equal(['C   X', '𝔸   a', 'ab  b']);
  });

  it('lines up field blocks on the longest label', () => {
    expect(
      formatFields([
        ['name', 'bob'],
        ['last login', 'never'],
      ]),
    ).to.equal('name        bob\nlast login  never');
  });
});
