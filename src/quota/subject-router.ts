/**
 * One QuotaLedger over two: the subjects of shared folders (folder:NAME) are
 * kept by `folders`, every user by `users`. With a store shared by several
 * processes the users' ledger holds escrow grants, while folders keep their
 * usage in their own records (see docs/quotas.md, Shared folders).
 */
import { folderOfSubject, type QuotaLedger, type Usage, type UserQuota } from './quota-ledger';

export class SubjectRouter implements QuotaLedger {
  constructor(
    private readonly users: QuotaLedger,
    private readonly folders: QuotaLedger,
  ) {}

  private of(subject: string): QuotaLedger {
    return folderOfSubject(subject) === undefined ? this.users : this.folders;
  }

  get(subject: string): Promise<UserQuota> {
    return this.of(subject).get(subject);
  }

  refreshLimits(subject: string): Promise<void> {
    return this.of(subject).refreshLimits(subject);
  }

  drop(subject: string): void {
    this.of(subject).drop(subject);
  }

  rescan(subject: string): Promise<Usage> {
    return this.of(subject).rescan(subject);
  }

  async rescanAll(): Promise<void> {
    await Promise.all([this.users.rescanAll(), this.folders.rescanAll()]);
  }

  start(): void {
    this.users.start();
    this.folders.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.users.stop(), this.folders.stop()]);
  }
}
