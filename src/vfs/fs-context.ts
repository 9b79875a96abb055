/**
 * What the parts of a user's filesystem share: the jail, the user's quota,
 * the session's logger and the upload tracker, and the quota refusal log.
 */
import { QuotaExceeded, type UserQuota } from '../quota/quota-ledger';
import type { Logger } from '../log/types';
import type { Jail } from './jail';
import type { UploadTracker } from './upload-tracker';

export interface UserFsOptions {
  jail: Jail;
  usage: UserQuota;
  /**
   * Follows uploads (resume, digests kept from the writes): told of each open
   * for writing and of each change that replaces, removes or moves a file.
   * None: nothing is followed.
   */
  uploads?: UploadTracker;
  /** The session's logger: quota refusals and changes to names (remove, rename, mkdir…) go here. */
  logger?: Logger;
  /**
   * The user whose session this is, when the jail is not their home (a shared
   * folder, charged to the folder's quota): the upload tracker knows files by it.
   * Default: the quota's user.
   */
  user?: string;
  /**
   * Where the jail's root appears in the user's view ("/homework" for a shared
   * folder mounted there); "" (the default) for the home itself. The upload
   * tracker, the logs and open files speak of paths as the user sees them.
   */
  at?: string;
}

export class FsContext {
  readonly jail: Jail;
  readonly usage: UserQuota;
  readonly uploads: UploadTracker | undefined;
  readonly logger: Logger | undefined;
  /** The user whose session this is. */
  readonly user: string;
  private readonly at: string;

  constructor(o: UserFsOptions) {
    this.jail = o.jail;
    this.usage = o.usage;
    this.uploads = o.uploads;
    this.logger = o.logger;
    this.user = o.user ?? o.usage.user;
    this.at = o.at ?? '';
  }

  /** The path the user sees for `vpath`, a path below the jail's root. */
  shown(vpath: string): string {
    if (this.at === '') return vpath;
    return vpath === '/' ? this.at : this.at + vpath;
  }

  /** Runs a quota check; a refusal is logged with the path before it reaches the client. */
  checked<T>(op: string, vpath: string, check: () => T): T {
    try {
      return check();
    } catch (err) {
      if (err instanceof QuotaExceeded && err.pending === undefined)
        this.logRefusal(op, this.shown(vpath), err);
      throw err;
    }
  }

  /**
   * Runs `attempt` (a quota check, or a check and its change in one turn);
   * while the quota ledger fetches more quota from a shared store
   * (QuotaExceeded.pending), waits for it and runs `attempt` again.
   */
  withQuota<T>(attempt: () => T): T | Promise<T> {
    try {
      return attempt();
    } catch (err) {
      if (!(err instanceof QuotaExceeded) || err.pending === undefined) throw err;
      return retryAfter(err.pending, attempt);
    }
  }

  logRefusal(op: string, vpath: string, err: QuotaExceeded): void {
    this.logger?.warn('quota.exceeded', {
      user: this.usage.user,
      op,
      path: vpath,
      attempted: err.attempted,
      used: err.used,
      quota: err.limit,
      unit: err.unit,
    });
  }
}

async function retryAfter<T>(pending: Promise<void>, attempt: () => T): Promise<T> {
  for (let wait = pending; ;) {
    await wait;
    try {
      return attempt();
    } catch (err) {
      if (!(err instanceof QuotaExceeded) || err.pending === undefined) throw err;
      wait = err.pending;
    }
  }
}
