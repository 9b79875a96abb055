import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'chai';
import { MiniftpError } from '../../src/errors';
import { createMemoryStore } from '../../src/store/memory-store';
import { applyMigrations, latestVersion } from '../../src/store/migrations';
import { openStore } from '../../src/store/sqlite-store';
import type { NewUser, Store } from '../../src/store/types';

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

function expectKind(fn: () => unknown, kind: MiniftpError['kind']): void {
  let caught: unknown;
  try {
    fn();
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
function storeBehaviour(makeStore: () => Store): void {
  let store: Store;

  beforeEach(() => {
    store = makeStore();
  });

  afterEach(() => {
    store.close();
  });

  describe('users', () => {
    it('creates, gets and lists users sorted by name', () => {
      const before = Date.now();
      const created = store.users.create(newUser('bob', { quotaBytes: 1024, quotaFiles: 5 }));
      store.users.create(newUser('alice', { isAdmin: true }));

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
      expect(store.users.get('bob')).to.deep.equal(created);
      expect(store.users.get('alice')?.isAdmin).to.equal(true);
      expect(store.users.get('carol')).to.equal(undefined);
      expect(store.users.list().map((u) => u.name)).to.deep.equal(['alice', 'bob']);
    });

    it('refuses a duplicate name with kind exists', () => {
      store.users.create(newUser('bob'));
      expectKind(() => store.users.create(newUser('bob')), 'exists');
    });

    it('refuses negative or fractional quotas', () => {
      expectKind(() => store.users.create(newUser('bob', { quotaBytes: -1 })), 'invalid');
      store.users.create(newUser('bob'));
      expectKind(() => store.users.setQuota('bob', 1.5), 'invalid');
    });

    it('updates quota, disabled, password and last login', () => {
      store.users.create(newUser('bob', { quotaFiles: 7 }));

      store.users.setQuota('bob', 5000);
      expect(store.users.get('bob')).to.include({ quotaBytes: 5000, quotaFiles: 7 });
      store.users.setQuota('bob', 6000, 9);
      expect(store.users.get('bob')).to.include({ quotaBytes: 6000, quotaFiles: 9 });

      store.users.setDisabled('bob', true);
      expect(store.users.get('bob')?.disabled).to.equal(true);
      store.users.setDisabled('bob', false);
      expect(store.users.get('bob')?.disabled).to.equal(false);

      store.users.setPasswordHash('bob', 'new-hash');
      expect(store.users.get('bob')?.passwordHash).to.equal('new-hash');

      const at = new Date('2024-05-06T07:08:09.010Z');
      store.users.touchLogin('bob', at);
      expect(store.users.get('bob')?.lastLoginAt).to.equal(at.toISOString());
    });

    it('reports updates of an unknown user as not-found', () => {
      expectKind(() => store.users.setQuota('ghost', 1), 'not-found');
      expectKind(() => store.users.setDisabled('ghost', true), 'not-found');
      expectKind(() => store.users.setPasswordHash('ghost', 'x'), 'not-found');
      expectKind(() => store.users.touchLogin('ghost', new Date()), 'not-found');
    });

    it('deletes a user with its keys, usage and uploads', () => {
      store.users.create(newUser('bob'));
      store.users.create(newUser('alice'));
      for (const name of ['bob', 'alice']) {
        store.keys.add({
          user: name,
          algo: 'ssh-ed25519',
          data: 'AAAA',
          comment: '',
          fingerprint: 'SHA256:x',
        });
        store.usage.set(name, 100, 2);
        store.uploads.put(upload(name, '/a.bin'));
      }

      expect(store.users.delete('bob')).to.equal(true);
      expect(store.users.delete('bob')).to.equal(false);
      expect(store.users.get('bob')).to.equal(undefined);
      expect(store.keys.list('bob')).to.deep.equal([]);
      expect(store.usage.get('bob')).to.deep.equal({ bytes: 0, files: 0, scannedAt: null });
      expect(store.uploads.get('bob', '/a.bin')).to.equal(undefined);

      expect(store.keys.list('alice')).to.have.length(1);
      expect(store.usage.get('alice').bytes).to.equal(100);
      expect(store.uploads.get('alice', '/a.bin')).to.not.equal(undefined);

      // A user created again under the same name starts clean.
      store.users.create(newUser('bob'));
      expect(store.keys.list('bob')).to.deep.equal([]);
    });
  });

  describe('keys', () => {
    beforeEach(() => {
      store.users.create(newUser('bob'));
    });

    it('adds, lists in order and removes keys', () => {
      const first = store.keys.add({
        user: 'bob',
        algo: 'ssh-ed25519',
        data: 'AAAAC3',
        comment: 'laptop',
        fingerprint: 'SHA256:one',
      });
      store.keys.add({
        user: 'bob',
        algo: 'ssh-rsa',
        data: 'AAAAB3',
        comment: '',
        fingerprint: 'SHA256:two',
      });

      expect(first).to.include({ user: 'bob', algo: 'ssh-ed25519', comment: 'laptop' });
      expect(Number.isNaN(Date.parse(first.addedAt))).to.equal(false);
      expect(store.keys.list('bob').map((k) => k.fingerprint)).to.deep.equal([
        'SHA256:one',
        'SHA256:two',
      ]);
      expect(store.keys.list('bob')[0]).to.deep.equal(first);

      expect(store.keys.remove('bob', 'SHA256:one')).to.equal(true);
      expect(store.keys.remove('bob', 'SHA256:one')).to.equal(false);
      expect(store.keys.list('bob').map((k) => k.fingerprint)).to.deep.equal(['SHA256:two']);
    });

    it('refuses the same fingerprint twice on one user, but allows it on another', () => {
      const key = {
        user: 'bob',
        algo: 'ssh-ed25519',
        data: 'AAAA',
        comment: '',
        fingerprint: 'SHA256:same',
      };
      store.keys.add(key);
      expectKind(() => store.keys.add(key), 'exists');
      store.users.create(newUser('alice'));
      store.keys.add({ ...key, user: 'alice' });
      expect(store.keys.list('alice')).to.have.length(1);
    });

    it('refuses a key for an unknown user', () => {
      expectKind(
        () =>
          store.keys.add({ user: 'ghost', algo: 'a', data: 'b', comment: '', fingerprint: 'c' }),
        'not-found',
      );
    });
  });

  describe('usage', () => {
    beforeEach(() => {
      store.users.create(newUser('bob'));
    });

    it('defaults to zero and no scan', () => {
      expect(store.usage.get('bob')).to.deep.equal({ bytes: 0, files: 0, scannedAt: null });
      expect(store.usage.get('nobody')).to.deep.equal({ bytes: 0, files: 0, scannedAt: null });
    });

    it('sets totals and keeps the last scan time when none is given', () => {
      const scan = new Date('2024-01-02T03:04:05.000Z');
      store.usage.set('bob', 5_000_000_000, 12, scan);
      expect(store.usage.get('bob')).to.deep.equal({
        bytes: 5_000_000_000,
        files: 12,
        scannedAt: scan.toISOString(),
      });
      store.usage.set('bob', 6_000_000_000, 13);
      expect(store.usage.get('bob')).to.deep.equal({
        bytes: 6_000_000_000,
        files: 13,
        scannedAt: scan.toISOString(),
      });
    });

    it('refuses an unknown user and negative totals', () => {
      expectKind(() => store.usage.set('ghost', 1, 1), 'not-found');
      expectKind(() => store.usage.set('bob', -1, 0), 'invalid');
    });
  });

  describe('uploads', () => {
    beforeEach(() => {
      store.users.create(newUser('bob'));
      store.users.create(newUser('alice'));
    });

    it('puts, replaces, gets and deletes a record', () => {
      store.uploads.put(upload('bob', '/dir/file.bin', 10));
      expect(store.uploads.get('bob', '/dir/file.bin')).to.include({
        user: 'bob',
        path: '/dir/file.bin',
        bytes: 10,
        md5: 'md5-10',
        fileSize: 10,
        fileMtimeMs: 1234.5,
      });
      store.uploads.put(upload('bob', '/dir/file.bin', 20));
      const record = store.uploads.get('bob', '/dir/file.bin');
      expect(record?.bytes).to.equal(20);
      expect(Number.isNaN(Date.parse(record?.updatedAt ?? ''))).to.equal(false);
      expect(store.uploads.get('alice', '/dir/file.bin')).to.equal(undefined);

      store.uploads.delete('bob', '/dir/file.bin');
      expect(store.uploads.get('bob', '/dir/file.bin')).to.equal(undefined);
      store.uploads.delete('bob', '/dir/file.bin');
    });

    it('refuses a record for an unknown user', () => {
      expectKind(() => store.uploads.put(upload('ghost', '/x')), 'not-found');
    });

    it('renames a single file over an existing record', () => {
      store.uploads.put(upload('bob', '/a.bin', 1));
      store.uploads.put(upload('bob', '/b.bin', 2));
      store.uploads.rename('bob', '/a.bin', '/b.bin');
      expect(store.uploads.get('bob', '/a.bin')).to.equal(undefined);
      expect(store.uploads.get('bob', '/b.bin')?.bytes).to.equal(1);
    });

    it('renames a directory with nested records, leaving look-alike siblings alone', () => {
      store.uploads.put(upload('bob', '/dir/one', 1));
      store.uploads.put(upload('bob', '/dir/sub/two', 2));
      store.uploads.put(upload('bob', '/dir2/three', 3));
      store.uploads.put(upload('bob', '/dirfile', 4));
      store.uploads.put(upload('alice', '/dir/one', 5));

      store.uploads.rename('bob', '/dir', '/moved/here');

      expect(store.uploads.get('bob', '/dir/one')).to.equal(undefined);
      expect(store.uploads.get('bob', '/dir/sub/two')).to.equal(undefined);
      expect(store.uploads.get('bob', '/moved/here/one')?.bytes).to.equal(1);
      expect(store.uploads.get('bob', '/moved/here/sub/two')).to.include({
        path: '/moved/here/sub/two',
        bytes: 2,
      });
      expect(store.uploads.get('bob', '/dir2/three')?.bytes).to.equal(3);
      expect(store.uploads.get('bob', '/dirfile')?.bytes).to.equal(4);
      expect(store.uploads.get('alice', '/dir/one')?.bytes).to.equal(5);
      expect(store.uploads.paths('bob').sort()).to.deep.equal([
        '/dir2/three',
        '/dirfile',
        '/moved/here/one',
        '/moved/here/sub/two',
      ]);
      expect(store.uploads.paths('alice')).to.deep.equal(['/dir/one']);
      expect(store.uploads.paths('nobody')).to.deep.equal([]);
    });

    it('treats % and _ in paths literally', () => {
      store.uploads.put(upload('bob', '/50%_off/a', 1));
      store.uploads.put(upload('bob', '/50xyoff/b', 2));
      store.uploads.put(upload('bob', '/50%_offer/c', 3));
      store.uploads.put(upload('bob', '/a_b', 4));
      store.uploads.put(upload('bob', '/axb', 5));

      store.uploads.rename('bob', '/50%_off', '/sale');
      store.uploads.rename('bob', '/a_b', '/c');

      expect(store.uploads.get('bob', '/sale/a')?.bytes).to.equal(1);
      expect(store.uploads.get('bob', '/50xyoff/b')?.bytes).to.equal(2);
      expect(store.uploads.get('bob', '/50%_offer/c')?.bytes).to.equal(3);
      expect(store.uploads.get('bob', '/c')?.bytes).to.equal(4);
      expect(store.uploads.get('bob', '/axb')?.bytes).to.equal(5);
    });

    it('handles non-ASCII names in a directory rename', () => {
      store.uploads.put(upload('bob', '/文件夹/😀.txt', 1));
      store.uploads.rename('bob', '/文件夹', '/é');
      expect(store.uploads.get('bob', '/é/😀.txt')?.bytes).to.equal(1);
    });
  });
}

describe('store', () => {
  describe('memory store', () => {
    storeBehaviour(() => createMemoryStore());
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

    it('creates the parent directory and a 0600 file', () => {
      const file = path.join(dir, 'nested', 'deeper', 'miniftp.db');
      const store = openStore({ file });
      store.users.create(newUser('bob'));
      store.close();
      expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
    });

    it('keeps data across a reopen', () => {
      const file = path.join(dir, 'reopen.db');
      const first = openStore({ file });
      first.users.create(newUser('bob', { quotaBytes: 42 }));
      first.keys.add({
        user: 'bob',
        algo: 'ssh-ed25519',
        data: 'AAAA',
        comment: 'c',
        fingerprint: 'SHA256:f',
      });
      first.usage.set('bob', 7, 1);
      first.uploads.put(upload('bob', '/x'));
      first.close();

      const second = openStore({ file });
      try {
        expect(second.users.get('bob')?.quotaBytes).to.equal(42);
        expect(second.keys.list('bob')).to.have.length(1);
        expect(second.usage.get('bob').bytes).to.equal(7);
        expect(second.uploads.get('bob', '/x')?.bytes).to.equal(10);
      } finally {
        second.close();
      }
    });

    it('sets user_version, uses WAL and migrates idempotently', () => {
      const file = path.join(dir, 'version.db');
      openStore({ file }).close();
      openStore({ file }).close();

      const db = new BetterSqlite3(file);
      try {
        expect(db.pragma('user_version', { simple: true })).to.equal(latestVersion());
        expect(db.pragma('journal_mode', { simple: true })).to.equal('wal');
        applyMigrations(db);
        expect(db.pragma('user_version', { simple: true })).to.equal(latestVersion());
      } finally {
        db.close();
      }
    });

    it('refuses a database newer than the code', () => {
      const file = path.join(dir, 'future.db');
      openStore({ file }).close();
      const db = new BetterSqlite3(file);
      db.pragma(`user_version = ${latestVersion() + 1}`);
      db.close();

      let caught: unknown;
      try {
        openStore({ file }).close();
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(MiniftpError);
      expect((caught as Error).message).to.match(/newer MiniFTP/);
    });

    it('rolls back every pending step when one fails', () => {
      const db = new BetterSqlite3(':memory:');
      try {
        expect(() =>
          applyMigrations(db, [
            { version: 1, sql: 'CREATE TABLE a (x INTEGER)' },
            { version: 2, sql: 'THIS IS NOT SQL' },
          ]),
        ).to.throw();
        expect(db.pragma('user_version', { simple: true })).to.equal(0);
        const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all();
        expect(tables).to.deep.equal([]);
      } finally {
        db.close();
      }
    });
  });
});
