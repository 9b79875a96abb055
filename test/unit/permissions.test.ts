/** The mode at a path of a user's view (src/vfs/permissions.ts): mounts, per-path permissions, their order. */
import { expect } from 'chai';
import { UserUsage } from '../../src/quota/user-usage';
import {
  governing,
  mountOf,
  restrictedBelow,
  within,
  type AccessView,
  type FolderMount,
} from '../../src/vfs/permissions';

const usage = new UserUsage('folder:x', 0, 0, { bytes: 0, files: 0 });
const mount = (at: string, mode: FolderMount['mode']): FolderMount => ({
  at,
  folder: at.slice(1).replace(/\//g, '-'),
  root: `/srv${at}`,
  mode,
  usage,
});

describe('permissions: the mode at a path', function () {
  it('within: a path is within itself and its ancestors, not within a look-alike sibling', function () {
    expect(within('/a/b', '/a')).to.equal(true);
    expect(within('/a', '/a')).to.equal(true);
    expect(within('/ab', '/a')).to.equal(false);
    expect(within('/anything', '/')).to.equal(true);
  });

  it('the deepest mount holds; nothing set is write at "/"', function () {
    const view: AccessView = {
      mounts: [mount('/class', 'read'), mount('/class/drop', 'upload')],
      rules: [],
    };
    expect(mountOf(view, '/class/drop/x')?.at).to.equal('/class/drop');
    expect(governing(view, '/class/notes.txt')).to.deep.equal({ mode: 'read', at: '/class' });
    expect(governing(view, '/class/drop/x')).to.deep.equal({ mode: 'upload', at: '/class/drop' });
    expect(governing(view, '/classic')).to.deep.equal({ mode: 'write', at: '/' });
  });

  it('the deepest per-path permission holds, in the home and in a write folder', function () {
    const view: AccessView = {
      mounts: [mount('/team', 'write')],
      rules: [
        { path: '/docs', mode: 'read' },
        { path: '/docs/inbox', mode: 'write' },
        { path: '/team/final', mode: 'read' },
      ],
    };
    expect(governing(view, '/docs/a')).to.deep.equal({ mode: 'read', at: '/docs' });
    expect(governing(view, '/docs/inbox/a')).to.deep.equal({ mode: 'write', at: '/docs/inbox' });
    expect(governing(view, '/team/final/x')).to.deep.equal({ mode: 'read', at: '/team/final' });
    expect(governing(view, '/team/draft')).to.deep.equal({ mode: 'write', at: '/team' });
  });

  it('a permission never gives more than a read or upload grant, and one above a mount does not reach into it', function () {
    const view: AccessView = {
      mounts: [mount('/handouts', 'read'), mount('/team', 'write')],
      rules: [
        { path: '/handouts/mine', mode: 'write' },
        { path: '/', mode: 'read' },
      ],
    };
    expect(governing(view, '/handouts/mine/x')).to.deep.equal({ mode: 'read', at: '/handouts' });
    expect(governing(view, '/team/x')).to.deep.equal({ mode: 'write', at: '/team' });
    expect(governing(view, '/elsewhere')).to.deep.equal({ mode: 'read', at: '/' });
  });

  it('restrictedBelow names a stricter permission under a path that would be moved', function () {
    const view: AccessView = {
      mounts: [],
      rules: [
        { path: '/a/b', mode: 'read' },
        { path: '/c/d', mode: 'write' },
      ],
    };
    expect(restrictedBelow(view, '/a')).to.deep.equal({ mode: 'read', at: '/a/b' });
    expect(restrictedBelow(view, '/a/b')).to.equal(undefined);
    expect(restrictedBelow(view, '/c')).to.equal(undefined);
  });
});
