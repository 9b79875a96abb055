/**
 * One writer per file across every process that shares the store: while a
 * process has a file open for writing it holds the file's writer lease in the
 * store and renews it; a resume elsewhere waits until the lease is given back
 * or has run out (its holder is gone) before it cuts the file. Inside one
 * process, the handles of a file share one lease.
 *
 * A lease also carries what the stored usage counts for the file (recorded by
 * the holder's quota settles). When a holder dies mid-upload, whoever finds its
 * lease run out first (the sweep here, or a process taking the lease over for
 * an OPEN or a resume) charges the file's size on the disk minus that, in the
 * transaction that ends the lease: the usage is exact again without a rescan.
 */
import type { Logger } from '../log/types';
import type { DiskFile, UploadShareStore } from '../store/upload-share-types';
import { describeError } from '../errors';

export interface SharingOptions {
  store: UploadShareStore;
  /** This process, unique among all that share the store. */
  holder: string;
  /** How long a lease outlives its holder's last renewal (ms). */
  leaseMs: number;
  /** An upload's MD5 state is saved every this many bytes. */
  checkpointEvery: number;
  logger: Logger;
  /**
   * The file at `path` of `user` on the disk, undefined when there is none (the sweep of leases
   * whose holder is gone). Without it, only a take-over corrects the usage.
   */
  fileAt?: (user: string, path: string) => Promise<DiskFile | undefined>;
}

/** Leases run out corrected per sweep, at most. */
const SWEEP_BATCH = 50;

/** A lease this process holds, or wants, for the handles it has open on one path. */
interface Held {
  refs: number;
  /** The last take: true once this process holds the lease. */
  taken: Promise<boolean>;
  /** The file as the first handle's OPEN found it (none for a lease taken for a resume). */
  file?: DiskFile;
  /** Another holder had the lease at the last take: tried again at each renewal. */
  missed: boolean;
}

function keyOf(user: string, path: string): string {
  return `${user}\0${path}`;
}

export class WriterLeases {
  /** Leases this process holds: handles open on each, and the take in progress. */
  private readonly held = new Map<string, Held>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly o: SharingOptions) {}

  start(): void {
    this.timer = setInterval(
      () => {
        this.renew();
        this.sweep();
      },
      Math.max(100, Math.floor(this.o.leaseMs / 3)),
    );
    this.timer.unref();
  }

  /** Ends the leases of holders gone (one sweep at a time), correcting the usage they leave. */
  private sweep(): void {
    const fileAt = this.o.fileAt;
    if (!fileAt || this.sweeping) return;
    this.sweeping = this.sweepOnce(fileAt)
      .catch((err: unknown) => {
        this.o.logger.warn('upload.lease_sweep_failed', { error: describeError(err) });
      })
      .finally(() => {
        this.sweeping = undefined;
      });
  }

  private async sweepOnce(
    fileAt: (user: string, path: string) => Promise<DiskFile | undefined>,
  ): Promise<void> {
    for (const lease of await this.o.store.expiredLeases(this.o.holder, SWEEP_BATCH)) {
      const file = await fileAt(lease.user, lease.path).catch(() => undefined);
      const corrected = await this.o.store.settleExpired(lease, file);
      if (corrected !== undefined) this.leaseEnded(lease.user, lease.path, lease.holder, corrected);
    }
  }

  private leaseEnded(user: string, path: string, holder: string, corrected: number): void {
    this.o.logger.info('upload.lease_expired', { user, path, holder, usage_corrected: corrected });
  }

  private renew(): void {
    if (this.held.size === 0) return;
    this.o.store.renewLeases(this.o.holder, this.o.leaseMs).catch((err: unknown) => {
      this.o.logger.warn('upload.lease_renew_failed', { error: describeError(err) });
    });
    // Files written here under another holder's lease (a resume while it ran): taken once it
    // runs out, so that this process's settles record their charge there from then on.
    for (const [k, h] of this.held) {
      if (!h.missed || !h.file) continue;
      h.missed = false;
      const [user, path] = k.split('\0') as [string, string];
      h.taken = this.take(user, path, h, true);
    }
  }

  /** Takes the lease of `path` for the handles of `h`; notes a lease another holds in `h.missed`. */
  private take(user: string, path: string, h: Held, quiet: boolean): Promise<boolean> {
    return this.o.store
      .takeLease(user, path, this.o.holder, this.o.leaseMs, h.file && { ...h.file, opened: true })
      .then((s) => {
        if (!s.taken && !quiet) this.o.logger.warn('upload.lease_held', { path, holder: s.holder });
        else if (s.corrected !== undefined) this.leaseEnded(user, path, 'taken over', s.corrected);
        h.missed = !s.taken;
        return s.taken;
      })
      .catch((err: unknown) => {
        this.o.logger.warn('upload.lease_failed', { path, error: describeError(err) });
        return false;
      });
  }

  /**
   * A handle opened `path` for writing (`file` as the open found it): takes the lease in the
   * background (the OPEN does not wait). Resolves to false when another process holds it.
   */
  hold(user: string, path: string, file: DiskFile): void {
    const k = keyOf(user, path);
    const h = this.held.get(k);
    if (h) {
      h.refs++;
      return;
    }
    const held: Held = { refs: 1, taken: Promise.resolve(false), file, missed: false };
    held.taken = this.take(user, path, held, false);
    this.held.set(k, held);
  }

  /**
   * A handle from hold() closed (the file `size` bytes then, unknown for a resume that did
   * not go on); the last one gives the lease back.
   */
  letGo(user: string, path: string, size?: number): void {
    const k = keyOf(user, path);
    const h = this.held.get(k);
    if (!h) return;
    if (--h.refs > 0) return;
    this.held.delete(k);
    void h.taken.then((taken) =>
      taken
        ? this.o.store.releaseLease(user, path, this.o.holder, size).catch(() => undefined)
        : undefined,
    );
  }

  /**
   * Takes the lease of `path` for a resume, waiting (until `deadline`, a
   * Date.now() value) while another process holds it; false when it still does
   * then. Held by this process: true at once (the in-process wait follows). After true, the
   * caller calls letGo once the resume is done.
   */
  async takeForResume(
    user: string,
    path: string,
    deadline: number,
    signal: AbortSignal,
    fileAt: () => Promise<DiskFile | undefined>,
  ): Promise<boolean> {
    const mine = this.held.get(keyOf(user, path));
    if (mine) await mine.taken;
    for (;;) {
      // The file as it is now: a holder gone left it so (the resume has not cut it yet). Written
      // here already under another's lease: as this process found it, which it charged from.
      const file = mine?.file ? { ...mine.file, opened: true } : await fileAt();
      const s = await this.o.store.takeLease(user, path, this.o.holder, this.o.leaseMs, file);
      if (s.corrected !== undefined) this.leaseEnded(user, path, 'taken over', s.corrected);
      if (s.taken) {
        // Held for the resume itself (the caller lets go when it is done); the resumed
        // handle's own hold() keeps it after that.
        const h = this.held.get(keyOf(user, path));
        if (h) {
          h.refs++;
          h.missed = false;
          h.taken = Promise.resolve(true);
        } else {
          this.held.set(keyOf(user, path), {
            refs: 1,
            taken: Promise.resolve(true),
            missed: false,
          });
        }
        return true;
      }
      const now = Date.now();
      if (now >= deadline || signal.aborted) return false;
      // The holder is gone once its lease runs out: look again then (or sooner, if it lets go).
      const wait = Math.min(Math.max(s.expiresInMs + 10, 20), 250, deadline - now);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
