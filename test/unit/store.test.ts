import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import { MiniftpError } from '../../src/errors';
import { migrations } from '../../src/store/migrations';
import { initial } from '../../src/store/migrations/0001_initial';
import { openPostgresStore, openStore } from '../../src/store/open';
import type { NewUser, Store } from '../../src/store/types';
import { postgresDatabase } from '../helpers/postgres';

function newUser(name: string, extra: Partial<NewUser> = {}): NewUser {
  return {
    name,
    passwordHash: `hash-of-${name}`,
    quotaBytes: 0,
    quotaFiles: 0,
    isAdmin: false,
    ...extra,
  };
}

async function expectKind(fn: () => Promise<unknown>, kind: MiniftpError['kind']): Promise<void> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a MiniftpError').to.be.instanceOf(MiniftpError);
  expect((caught as MiniftpError).kind).to.equal(kind);
}

function upload(user: string, filePath: string, bytes = 10) {
  return { user, path: filePath, bytes, md5: `md5-${bytes}`, fileSize: bytes, fileMtimeMs: 1234.5 };
}

/** What every Store must do, whatever holds the data. */
function storeBehaviour(makeStore: () => Promise<Store>): void {
  let store: Store;

  beforeEach(async () => {
    store = await makeStore();
  });

  afterEach(async () => {
    await store.close();
  });

  describe('users', () => {
    it('creates, gets and lists users sorted by name', async () => {
      const before = Date.now();
      const created = await store.users.create(newUser('bob', { quotaBytes: 1024, quotaFiles: 5 }));
      await store.users.create(newUser('alice', { isAdmin: true }));

      expect(created).to.include({
        name: 'bob',
        passwordHash: 'hash-of-bob',
        quotaBytes: 1024,
        quotaFiles: 5,
        disabled: false,
        isAdmin: false,
        lastLoginAt: null,
      });
      expect(Date.parse(created.createdAt)).to.be.at.least(before - 1);
      expect(await store.users.get('bob')).to.deep.equal(created);
      expect((await store.users.get('alice'))?.isAdmin).to.equal(true);
      expect(await store.users.get('carol')).to.equal(undefined);
      expect((await store.users.list()).map((u) => u.name)).to.deep.equal(['alice', 'bob']);
    });

    it('refuses a duplicate name with kind exists', async () => {
      await store.users.create(newUser('bob'));
      await expectKind(() => store.users.create(newUser('bob')), 'exists');
    });

    it('refuses negative or fractional quotas', async () => {
      await expectKind(() => store.users.create(newUser('bob', { quotaBytes: -1 })), 'invalid');
      await store.users.create(newUser('bob'));
      await expectKind(() => store.users.setQuota('bob', 1.5), 'invalid');
    });

    it('updates quota, disabled, password and last login', async () => {
      await store.users.create(newUser('bob', { quotaFiles: 7 }));

      await store.users.setQuota('bob', 5000);
      expect(await store.users.get('bob')).to.include({ quotaBytes: 5000, quotaFiles: 7 });
      await store.users.setQuota('bob', 6000, 9);
      expect(await store.users.get('bob')).to.include({ quotaBytes: 6000, quotaFiles: 9 });

      await store.users.setDisabled('bob', true);
      expect((await store.users.get('bob'))?.disabled).to.equal(true);
      await store.users.setDisabled('bob', false);
      expect((await store.users.get('bob'))?.disabled).to.equal(false);

      await store.users.setPasswordHash('bob', 'new-hash');
      expect((await store.users.get('bob'))?.passwordHash).to.equal('new-hash');

      const at = new Date('2024-05-06T07:08:09.010Z');
      await store.users.touchLogin('bob', at);
      expect((await store.users.get('bob'))?.lastLoginAt).to.equal(at.toISOString());
    });

    it('reports updates of an unknown user as not-found', async () => {
      await expectKind(() => store.users.setQuota('ghost', 1), 'not-found');
      await expectKind(() => store.users.setDisabled('ghost', true), 'not-found');
      await expectKind(() => store.users.setPasswordHash('ghost', 'x'), 'not-found');
      await expectKind(() => store.users.touchLogin('ghost', new Date()), 'not-found');
    });

    it('deletes a user with its keys, usage and uploads', async () => {
      await store.users.create(newUser('bob'));
      await store.users.create(newUser('alice'));
      for (const name of ['bob', 'alice']) {
        await store.keys.add({
          user: name,
          algo: 'ssh-ed25519',
          data: 'AAAA',
          comment: '',
          fingerprint: 'SHA256:x',
        });
        await store.usage.set(name, 100, 2);
        await store.uploads.put(upload(name, '/a.bin'));
      }

      expect(await store.users.delete('bob')).to.equal(true);
      expect(await store.users.delete('bob')).to.equal(false);
      expect(await store.users.get('bob')).to.equal(undefined);
      expect(await store.keys.list('bob')).to.deep.equal([]);
      expect(await store.usage.get('bob')).to.deep.equal({ bytes: 0, files: 0, scannedAt: null });
      expect(await store.uploads.get('bob', '/a.bin')).to.equal(undefined);

      expect(await store.keys.list('alice')).to.have.length(1);
      expect((await store.usage.get('alice')).bytes).to.equal(100);
      expect(await store.uploads.get('alice', '/a.bin')).to.not.equal(undefined);

      // A user created again under the same name starts clean.
      await store.users.create(newUser('bob'));
      expect(await store.keys.list('bob')).to.deep.equal([]);
    });
  });

  describe('keys', () => {
    beforeEach(async () => {
      await store.users.create(newUser('bob'));
    });

    it('adds, lists in order and removes keys', async () => {
      const first = await store.keys.add({
        user: 'bob',
        algo: 'ssh-ed25519',
        data: 'AAAAC3',
        comment: 'laptop',
        fingerprint: 'SHA256:one',
      });
      await store.keys.add({
        user: 'bob',
        algo: 'ssh-rsa',
        data: 'AAAAB3',
        comment: '',
        fingerprint: 'SHA256:two',
      });

      expect(first).to.include({ user: 'bob', algo: 'ssh-ed25519', comment: 'laptop' });
      expect(Number.isNaN(Date.parse(first.addedAt))).to.equal(false);
      expect((await store.keys.list('bob')).map((k) => k.fingerprint)).to.deep.equal([
        'SHA256:one',
        'SHA256:two',
      ]);
      expect((await store.keys.list('bob'))[0]).to.deep.equal(first);

      expect(await store.keys.remove('bob', 'SHA256:one')).to.equal(true);
      expect(await store.keys.remove('bob', 'SHA256:one')).to.equal(false);
      expect((await store.keys.list('bob')).map((k) => k.fingerprint)).to.deep.equal([
        'SHA256:two',
      ]);
    });

    it('refuses the same fingerprint twice on one user, but allows it on another', async () => {
      const key = {
        user: 'bob',
        algo: 'ssh-ed25519',
        data: 'AAAA',
        comment: '',
        fingerprint: 'SHA256:same',
      };
      await store.keys.add(key);
      await expectKind(() => store.keys.add(key), 'exists');
      await store.users.create(newUser('alice'));
      await store.keys.add({ ...key, user: 'alice' });
      expect(await store.keys.list('alice')).to.have.length(1);
    });

    it('refuses a key for an unknown user', async () => {
      await expectKind(
        () =>
          store.keys.add({ user: 'ghost', algo: 'a', data: 'b', comment: '', fingerprint: 'c' }),
        'not-found',
      );
    });
  });

  describe('usage', () => {
    beforeEach(async () => {
      await store.users.create(newUser('bob'));
    });

    it('defaults to zero and no scan', async () => {
      expect(await store.usage.get('bob')).to.deep.equal({ bytes: 0, files: 0, scannedAt: null });
      expect(await store.usage.get('nobody')).to.deep.equal({
        bytes: 0,
        files: 0,
        scannedAt: null,
      });
    });

    it('sets totals and keeps the last scan time when none is given', async () => {
      const scan = new Date('2024-01-02T03:04:05.000Z');
      await store.usage.set('bob', 5_000_000_000, 12, scan);
      expect(await store.usage.get('bob')).to.deep.equal({
        bytes: 5_000_000_000,
        files: 12,
        scannedAt: scan.toISOString(),
      });
      await store.usage.set('bob', 6_000_000_000, 13);
      expect(await store.usage.get('bob')).to.deep.equal({
        bytes: 6_000_000_000,
        files: 13,
        scannedAt: scan.toISOString(),
      });
    });

    it('refuses an unknown user and negative totals', async () => {
      await expectKind(() => store.usage.set('ghost', 1, 1), 'not-found');
      await expectKind(() => store.usage.set('bob', -1, 0), 'invalid');
    });
  });

  describe('uploads', () => {
    beforeEach(async () => {
      await store.users.create(newUser('bob'));
      await store.users.create(newUser('alice'));
    });

    it('puts, replaces, gets and deletes a record', async () => {
      await store.uploads.put(upload('bob', '/dir/file.bin', 10));
      expect(await store.uploads.get('bob', '/dir/file.bin')).to.include({
        user: 'bob',
        path: '/dir/file.bin',
        bytes: 10,
        md5: 'md5-10',
        fileSize: 10,
        fileMtimeMs: 1234.5,
      });
      await store.uploads.put(upload('bob', '/dir/file.bin', 20));
      const record = await store.uploads.get('bob', '/dir/file.bin');
      expect(record?.bytes).to.equal(20);
      expect(Number.isNaN(Date.parse(record?.updatedAt ?? ''))).to.equal(false);
      expect(await store.uploads.get('alice', '/dir/file.bin')).to.equal(undefined);

      await store.uploads.delete('bob', '/dir/file.bin');
      expect(await store.uploads.get('bob', '/dir/file.bin')).to.equal(undefined);
      await store.uploads.delete('bob', '/dir/file.bin');
    });

    it('refuses a record for an unknown user', async () => {
      await expectKind(() => store.uploads.put(upload('ghost', '/x')), 'not-found');
    });

    it('renames a single file over an existing record', async () => {
      await store.uploads.put(upload('bob', '/a.bin', 1));
      await store.uploads.put(upload('bob', '/b.bin', 2));
      await store.uploads.rename('bob', '/a.bin', '/b.bin');
      expect(await store.uploads.get('bob', '/a.bin')).to.equal(undefined);
      expect((await store.uploads.get('bob', '/b.bin'))?.bytes).to.equal(1);
    });

    it('renames a directory with nested records, leaving look-alike siblings alone', async () => {
      await store.uploads.put(upload('bob', '/dir/one', 1));
      await store.uploads.put(upload('bob', '/dir/sub/two', 2));
      await store.uploads.put(upload('bob', '/dir2/three', 3));
      await store.uploads.put(upload('bob', '/dirfile', 4));
      await store.uploads.put(upload('alice', '/dir/one', 5));

      await store.uploads.rename('bob', '/dir', '/moved/here');

      expect(await store.uploads.get('bob', '/dir/one')).to.equal(undefined);
      expect(await store.uploads.get('bob', '/dir/sub/two')).to.equal(undefined);
      expect((await store.uploads.get('bob', '/moved/here/one'))?.bytes).to.equal(1);
      expect(await store.uploads.get('bob', '/moved/here/sub/two')).to.include({
        path: '/moved/here/sub/two',
        bytes: 2,
      });
      expect((await store.uploads.get('bob', '/dir2/three'))?.bytes).to.equal(3);
      expect((await store.uploads.get('bob', '/dirfile'))?.bytes).to.equal(4);
      expect((await store.uploads.get('alice', '/dir/one'))?.bytes).to.equal(5);
      expect((await store.uploads.paths('bob')).sort()).to.deep.equal([
        '/dir2/three',
        '/dirfile',
        '/moved/here/one',
        '/moved/here/sub/two',
      ]);
      expect(await store.uploads.paths('alice')).to.deep.equal(['/dir/one']);
      expect(await store.uploads.paths('nobody')).to.deep.equal([]);
    });

    it('treats % and _ in paths literally', async () => {
      await store.uploads.put(upload('bob', '/50%_off/a', 1));
      await store.uploads.put(upload('bob', '/50xyoff/b', 2));
      await store.uploads.put(upload('bob', '/50%_offer/c', 3));
      await store.uploads.put(upload('bob', '/a_b', 4));
      await store.uploads.put(upload('bob', '/axb', 5));

      await store.uploads.rename('bob', '/50%_off', '/sale');
      await store.uploads.rename('bob', '/a_b', '/c');

      expect((await store.uploads.get('bob', '/sale/a'))?.bytes).to.equal(1);
      expect((await store.uploads.get('bob', '/50xyoff/b'))?.bytes).to.equal(2);
      expect((await store.uploads.get('bob', '/50%_offer/c'))?.bytes).to.equal(3);
      expect((await store.uploads.get('bob', '/c'))?.bytes).to.equal(4);
      expect((await store.uploads.get('bob', '/axb'))?.bytes).to.equal(5);
    });

    it('handles non-ASCII names in a directory rename', async () => {
      await store.uploads.put(upload('bob', '/文件夹/😀.txt', 1));
      await store.uploads.rename('bob', '/文件夹', '/é');
      expect((await store.uploads.get('bob', '/é/😀.txt'))?.bytes).to.equal(1);
    });
  });
}

describe('store', () => {
  describe('sqlite store in memory', () => {
    storeBehaviour(() => openStore({ file: ':memory:' }));
  });

  describe('postgresql store', function () {
    // The first test of the run may start the private cluster.
    this.timeout(120_000);
    storeBehaviour(async () =>
      openPostgresStore({ url: await postgresDatabase(), poolSize: 4, timeoutMs: 10_000 }),
    );
  });

  describe('sqlite store', () => {
    let dir: string;

    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniftp-store-'));
    });

    after(() => {
      fs.rmSync(dir, { recursive: true, force: true });
    });

    let counter = 0;
    storeBehaviour(() => openStore({ file: path.join(dir, `behaviour-${++counter}.db`) }));

    it('creates the parent directory and a 0600 file', async () => {
      const file = path.join(dir, 'nested', 'deeper', 'miniftp.db');
      const store = await openStore({ file });
      await store.users.create(newUser('bob'));
      await store.close();
      expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
    });

    it('keeps data across a reopen', async () => {
      const file = path.join(dir, 'reopen.db');
      const first = await openStore({ file });
      await first.users.create(newUser('bob', { quotaBytes: 42 }));
      await first.keys.add({
        user: 'bob',
        algo: 'ssh-ed25519',
        data: 'AAAA',
        comment: 'c',
        fingerprint: 'SHA256:f',
      });
      await first.usage.set('bob', 7, 1);
      await first.uploads.put(upload('bob', '/x'));
      await first.close();

      const second = await openStore({ file });
      try {
        expect((await second.users.get('bob'))?.quotaBytes).to.equal(42);
        expect(await second.keys.list('bob')).to.have.length(1);
        expect((await second.usage.get('bob')).bytes).to.equal(7);
        expect((await second.uploads.get('bob', '/x'))?.bytes).to.equal(10);
      } finally {
        await second.close();
      }
    });

    it('records migrations, keeps user_version in step, uses WAL and migrates idempotently', async () => {
      const file = path.join(dir, 'version.db');
      await (await openStore({ file })).close();
      await (await openStore({ file })).close();

      const db = new BetterSqlite3(file);
      try {
        expect(db.pragma('user_version', { simple: true })).to.equal(migrations.length);
        expect(db.pragma('journal_mode', { simple: true })).to.equal('wal');
        const ids = db.prepare('SELECT id FROM schema_migrations ORDER BY id').all();
        expect(ids).to.deep.equal(migrations.map((m) => ({ id: m.id })));
      } finally {
        db.close();
      }
    });

    it('takes over a database from before schema_migrations (user_version 1)', async () => {
      const file = path.join(dir, 'legacy.db');
      const db = new BetterSqlite3(file);
      db.exec(initial.sqlite);
      db.prepare(
        "INSERT INTO users (name, password_hash, created_at) VALUES ('old', 'h', '2024-01-01')",
      ).run();
      db.pragma('user_version = 1');
      db.close();

      const store = await openStore({ file });
      try {
        expect((await store.users.get('old'))?.passwordHash).to.equal('h');
      } finally {
        await store.close();
      }
      const check = new BetterSqlite3(file);
      try {
        const ids = check.prepare('SELECT id FROM schema_migrations').all();
        // 0001 is taken as applied; the later steps run on it.
        expect(ids).to.deep.equal(migrations.map((m) => ({ id: m.id })));
      } finally {
        check.close();
      }
    });

    it('refuses a database newer than the code, naming both versions and the setting', async () => {
      const file = path.join(dir, 'future.db');
      await (await openStore({ file })).close();
      const db = new BetterSqlite3(file);
      db.prepare(
        "INSERT INTO schema_migrations (id, applied_at) VALUES ('9999_future', 'x')",
      ).run();
      db.close();

      let caught: unknown;
      try {
        await openStore({
          file,
          place: { description: `the data directory '${dir}' (--data-dir)`, setting: '--data-dir' },
        });
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(MiniftpError);
      const message = (caught as Error).message;
      expect(message).to.include('9999_future');
      expect(message).to.include(migrations[migrations.length - 1]?.id);
      expect(message).to.include('--data-dir');
      expect(message).to.match(/newer MiniFTP/);
    });

    it('rolls back every pending step when one fails', async () => {
      const file = path.join(dir, 'rollback.db');
      let caught: unknown;
      try {
        await openStore({
          file,
          migrations: [
            { id: '0001_a', sqlite: 'CREATE TABLE a (x INTEGER)', postgres: '' },
            { id: '0002_b', sqlite: 'THIS IS NOT SQL', postgres: '' },
          ],
        });
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(Error);
      const db = new BetterSqlite3(file);
      try {
        expect(db.pragma('user_version', { simple: true })).to.equal(0);
        const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all();
        expect(tables).to.deep.equal([]);
      } finally {
        db.close();
      }
    });
  });
});
