/**
 * The store's groups, shared folders, grants, per-path permissions and
 * uploader records (src/store/access.ts), on SQLite and on a private PostgreSQL.
 */
import { expect } from 'chai';
import { MiniftpError } from '../../src/errors';
import { openPostgresStore, openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import { postgresDatabase } from '../helpers/postgres';

function accessStoreTests(open: () => Promise<Store>): void {
  let store: Store;

  beforeEach(async () => {
    store = await open();
    for (const name of ['alice', 'bob', 'teacher']) {
      await store.users.create({
        name,
        passwordHash: 'h',
        quotaBytes: 0,
        quotaFiles: 0,
        isAdmin: false,
      });
    }
  });

  afterEach(async () => {
    await store.close();
  });

  it('keeps groups and members; a deleted user leaves every group', async () => {
    const a = store.access;
    const start = await a.counter();
    await a.addGroup('class1');
    expect(await a.addMembers('class1', ['alice', 'bob', 'alice'])).to.deep.equal(['alice', 'bob']);
    expect(await a.addMembers('class1', ['alice'])).to.deep.equal([]);
    let snap = await a.snapshot();
    expect(snap.groups.map((g) => [g.name, g.members])).to.deep.equal([
      ['class1', ['alice', 'bob']],
    ]);
    expect(snap.counter).to.be.greaterThan(start);
    const err = await a.addGroup('class1').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(MiniftpError);
    expect((err as MiniftpError).kind).to.equal('exists');
    await store.users.delete('bob');
    snap = await a.snapshot();
    expect(snap.groups[0]?.members).to.deep.equal(['alice']);
    expect(await a.removeMembers('class1', ['alice', 'nobody'])).to.deep.equal(['alice']);
    expect(await a.deleteGroup('class1')).to.equal(true);
    expect(await a.deleteGroup('class1')).to.equal(false);
  });

  it('keeps folders with quotas and usage, and grants to users and groups', async () => {
    const a = store.access;
    await a.addGroup('class1');
    await a.addFolder({ name: 'handouts', quotaBytes: 1000, quotaFiles: 10, charge: 'folder' });
    await a.addFolder({ name: 'drop', quotaBytes: 0, quotaFiles: 0, charge: 'uploader' });
    await a.grant({ folder: 'handouts', group: 'class1', mode: 'read', at: '/handouts' });
    await a.grant({ folder: 'handouts', user: 'teacher', mode: 'write', at: '/handouts' });
    // A second grant to the same grantee replaces the first.
    await a.grant({ folder: 'handouts', group: 'class1', mode: 'upload', at: '/in' });
    await a.setFolderUsage('handouts', 123, 4);
    await a.setFolderQuota('handouts', 2000, 20);
    const snap = await a.snapshot();
    expect(
      snap.folders.map((f) => [f.name, f.quotaBytes, f.quotaFiles, f.charge, f.bytes, f.files]),
    ).to.deep.equal([
      ['drop', 0, 0, 'uploader', 0, 0],
      ['handouts', 2000, 20, 'folder', 123, 4],
    ]);
    expect(snap.grants).to.deep.equal([
      { folder: 'handouts', group: 'class1', mode: 'upload', at: '/in' },
      { folder: 'handouts', user: 'teacher', mode: 'write', at: '/handouts' },
    ]);
    expect(await a.revoke('handouts', { user: 'teacher' })).to.equal(true);
    expect(await a.revoke('handouts', { user: 'teacher' })).to.equal(false);
    const missing = await a
      .grant({ folder: 'nope', user: 'alice', mode: 'read', at: '/x' })
      .catch((e: unknown) => e);
    expect((missing as MiniftpError).kind).to.equal('not-found');
    // Deleting the group or the folder takes the grants along.
    await a.deleteGroup('class1');
    expect((await a.snapshot()).grants).to.deep.equal([]);
    expect(await a.deleteFolder('handouts')).to.equal(true);
    expect((await a.snapshot()).folders.map((f) => f.name)).to.deep.equal(['drop']);
  });

  it('keeps per-path permissions, one per user and path', async () => {
    const a = store.access;
    await a.setPerm({ user: 'alice', path: '/handouts', mode: 'read' });
    await a.setPerm({ user: 'alice', path: '/handouts', mode: 'write' });
    await a.setPerm({ user: 'bob', path: '/x', mode: 'upload' });
    expect((await a.snapshot()).perms).to.deep.equal([
      { user: 'alice', path: '/handouts', mode: 'write' },
      { user: 'bob', path: '/x', mode: 'upload' },
    ]);
    expect(await a.deletePerm('alice', '/handouts')).to.equal(true);
    expect(await a.deletePerm('alice', '/handouts')).to.equal(false);
    const err = await a
      .setPerm({ user: 'ghost', path: '/x', mode: 'read' })
      .catch((e: unknown) => e);
    expect((err as MiniftpError).kind).to.equal('not-found');
  });

  it('records uploaders, moves a directory of them and forgets a tree, taking % and _ literally', async () => {
    const a = store.access;
    await a.addFolder({ name: 'hw', quotaBytes: 0, quotaFiles: 0, charge: 'folder' });
    await a.setUploader('hw', '/d/a.txt', 'alice');
    await a.setUploader('hw', '/d/sub/b.txt', 'bob');
    await a.setUploader('hw', '/d_x/c.txt', 'bob');
    await a.setUploader('hw', '/e/old.txt', 'bob');
    expect(await a.uploaderOf('hw', '/d/a.txt')).to.equal('alice');
    expect(await a.uploaderOf('hw', '/d')).to.equal(undefined);
    const counter = await a.counter();
    await a.moveUploads('hw', '/d', '/e');
    expect(await a.uploaderOf('hw', '/e/a.txt')).to.equal('alice');
    expect(await a.uploaderOf('hw', '/e/sub/b.txt')).to.equal('bob');
    // What the move replaced is gone; the look-alike sibling stays.
    expect(await a.uploaderOf('hw', '/e/old.txt')).to.equal(undefined);
    expect(await a.uploaderOf('hw', '/d_x/c.txt')).to.equal('bob');
    await a.removeUploads('hw', '/e');
    expect(await a.uploaderOf('hw', '/e/a.txt')).to.equal(undefined);
    expect(await a.uploaderOf('hw', '/d_x/c.txt')).to.equal('bob');
    // Uploads are not a change of what anyone may see: no reload for them.
    expect(await a.counter()).to.equal(counter);
    await a.deleteFolder('hw');
    expect(await a.uploaderOf('hw', '/d_x/c.txt')).to.equal(undefined);
  });
}

describe('groups and shared folders in the store', function () {
  describe('SQLite', function () {
    accessStoreTests(() => openStore({ file: ':memory:' }));
  });

  describe('PostgreSQL', function () {
    this.timeout(60_000);
    accessStoreTests(async () =>
      openPostgresStore({ url: await postgresDatabase(), poolSize: 4, timeoutMs: 10_000 }),
    );
  });
});
