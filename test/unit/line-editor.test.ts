import { expect } from 'chai';
import { LineEditor } from '../../src/client/ui/line-editor';

describe('client line editor', () => {
  const key = (name: string, ctrl = false): { name: string; ctrl: boolean } => ({ name, ctrl });

  it('edits in the middle and recalls history', () => {
    const e = new LineEditor();
    for (const ch of 'pt x') e.key(ch, {});
    e.key(undefined, key('left'));
    e.key(undefined, key('left'));
    e.key(undefined, key('left'));
    e.key('u', {});
    expect(e.text).to.equal('put x');
    expect(e.key(undefined, key('enter'))).to.equal('submit');
    e.remember(e.text);
    e.clear();
    e.key('l', {});
    e.key(undefined, key('up'));
    expect(e.text).to.equal('put x');
    e.key(undefined, key('down'));
    expect(e.text).to.equal('l');
    e.key(undefined, key('w', true));
    expect(e.text).to.equal('');
    expect(e.key(undefined, key('escape'))).to.equal('cancel');
  });
});
