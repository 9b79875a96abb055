/**
 * One writer per file across every process that shares the store: while a
 * process has a file open for writing it holds the file's writer lease in the
 * store and renews it; a resume elsewhere waits until the lease is given back
 * or has run out (its holder is gone) before it cuts the file. Inside one
 * process, the handles of a file share one lease.
 */
import type { Logger } from '../log/types';
import type { UploadShareStore } from '../store/upload-share-types';
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
}

function keyOf(user: string, path: string): string {
  return `${user}\0${path}`;
}

export class WriterLeases {
  /** Leases this process holds: handles open on each, and the take in progress. */
  private readonly held = new Map<string, { refs: number; taken: Promise<boolean> }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: SharingOptions) {}

  start(): void {
    this.timer = setInterval(() => this.renew(), Math.max(100, Math.floor(this.o.leaseMs / 3)));
    this.timer.unref();
  }

  private renew(): void {
    if (this.held.size === 0) return;
    this.o.store.renewLeases(this.o.holder, this.o.leaseMs).catch((err: unknown) => {
      this.o.logger.warn('upload.lease_renew_failed', { error: describeError(err) });
    });
  }

  /**
   * A handle opened `path` for writing: takes the lease in the background
   * (the OPEN does not wait). Resolves to false when another process holds it.
   */
  hold(user: string, path: string): void {
    const k = keyOf(user, path);
    const h = this.held.get(k);
    if (h) {
      h.refs++;
      return;
    }
    const taken = this.o.store
      .takeLease(user, path, this.o.holder, this.o.leaseMs)
      .then((s) => {
        if (!s.taken) this.o.logger.warn('upload.lease_held', { path, holder: s.holder });
        return s.taken;
      })
      .catch((err: unknown) => {
        this.o.logger.warn('upload.lease_failed', { path, error: describeError(err) });
        return false;
      });
    this.held.set(k, { refs: 1, taken });
  }

  /** A handle from hold() closed; the last one gives the lease back. */
  letGo(user: string, path: string): void {
    const k = keyOf(user, path);
    const h = this.held.get(k);
    if (!h) return;
    if (--h.refs > 0) return;
    this.held.delete(k);
    void h.taken.then((taken) =>
      taken
        ? this.o.store.releaseLease(user, path, this.o.holder).catch(() => undefined)
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
  ): Promise<boolean> {
    const mine = this.held.get(keyOf(user, path));
    if (mine) await mine.taken;
    for (;;) {
      const s = await this.o.store.takeLease(user, path, this.o.holder, this.o.leaseMs);
      if (s.taken) {
        // Held for the resume itself (the caller lets go when it is done); the resumed
        // handle's own hold() keeps it after that.
        const h = this.held.get(keyOf(user, path));
        if (h) h.refs++;
        else this.held.set(keyOf(user, path), { refs: 1, taken: Promise.resolve(true) });
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
