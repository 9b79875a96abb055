/**
 * A failure path that is hard to reach through a real server: a database
 * that cannot be written (a full disk) when the quota manager flushes.
 */
import { expect } from 'chai';
import { QuotaManager } from '../../src/quota/quota-manager';
import { scanHome } from '../../src/vfs/usage-scan';
import { openStore } from '../../src/store/open';
import { RecordingLogger } from '../helpers/fake-channel';

function diskFull(): Error {
  return Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
}

describe('hardening (unit)', function () {
  describe('QuotaManager.flush with a database that cannot be written', function () {
    it('does not throw, keeps the usage dirty, and writes it once the store works again', async function () {
      const store = await openStore({ file: ':memory:' });
      await store.users.create({
        name: 'bob',
        passwordHash: 'x',
        quotaBytes: 0,
        quotaFiles: 0,
        isAdmin: false,
      });
      const logger = new RecordingLogger();
      const quota = new QuotaManager({
        store,
        logger,
        scanHome: (user, isOpen) => scanHome(`/nonexistent/${user}`, isOpen),
      });
      const usage = await quota.get('bob');
      usage.adjust(1234, 1);
      const set = store.usage.set.bind(store.usage);
      store.usage.set = () => Promise.reject(diskFull());
      await quota.flush();
      expect(usage.isDirty).to.equal(true);
      expect(logger.events).to.include('quota.flush_failed');
      store.usage.set = set;
      await quota.flush();
      expect(usage.isDirty).to.equal(false);
      expect(await store.usage.get('bob')).to.include({ bytes: 1234, files: 1 });
      await store.close();
    });
  });
});
