/**
 * The quota ledgers the server keeps: users and shared folders (folder:NAME)
 * in one in-process ledger, or, with a store shared by several processes,
 * escrow grants for the users and the folders' ledger beside them.
 */
import type { AccessDirectory } from '../access/directory';
import type { Logger } from '../log/types';
import { EscrowLedger } from '../quota/escrow-ledger';
import { folderOfSubject, type QuotaLedger, type ScanHome } from '../quota/quota-ledger';
import { QuotaManager } from '../quota/quota-manager';
import { SubjectRouter } from '../quota/subject-router';
import type { Store } from '../store/types';
import { scanHome as scanDir } from '../vfs/usage-scan';
import type { Homes } from '../vfs/homes';
import type { SharingParts } from './sharing';

export function quotaLedgers(o: {
  store: Store;
  logger: Logger;
  shared: SharingParts | undefined;
  /** Declared after the ledgers, which use them only later. */
  homes: () => Homes;
  access: () => AccessDirectory | undefined;
}): { quota: QuotaLedger; folderQuota: QuotaManager } {
  const { store, logger, shared } = o;
  const scanHome: ScanHome = (user, isOpen) => o.homes().scanUsage(user, isOpen);
  const folderQuota = new QuotaManager({
    store,
    logger,
    scanHome: (subject, isOpen) => {
      const folder = folderOfSubject(subject);
      const access = o.access();
      if (folder !== undefined && access) return scanDir(access.folderDir(folder), isOpen);
      return scanHome(subject, isOpen);
    },
    subjects: {
      account: (subject) => o.access()?.account(subject),
      saveUsage: async (subject, usage) => o.access()?.saveUsage(subject, usage),
      list: () => o.access()?.list() ?? [],
    },
    subjectsOnly: shared !== undefined,
  });
  const quota: QuotaLedger = shared
    ? new SubjectRouter(
        new EscrowLedger({ store, grants: shared.grants, logger, scanHome, ...shared.who }),
        folderQuota,
      )
    : folderQuota;
  return { quota, folderQuota };
}
