/** The requests of one transfer in flight at once, bounded. */
import { TransferAbortedError } from './errors';

/**
 * A bounded set of requests in flight. Each slot is held from the request until
 * its data is no longer needed, so memory stays within `size` blocks. The first
 * failure (or an abort) stops new requests; outstanding ones are awaited.
 */
export class Window {
  private active = 0;
  private waiters: Array<() => void> = [];
  failure: unknown;
  private readonly onAbort = (): void => this.fail(new TransferAbortedError());

  constructor(
    private readonly size: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Waits for a free slot; false once the transfer must stop. */
  async acquire(): Promise<boolean> {
    for (;;) {
      if (this.failure !== undefined) return false;
      if (this.active < this.size) {
        this.active++;
        return true;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  release(): void {
    this.active--;
    this.wake();
  }

  fail(err: unknown): void {
    this.failure ??= err;
    this.wake();
  }

  /** Waits until every slot is released, then throws the first failure if any. */
  async finish(): Promise<void> {
    while (this.active > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.signal?.removeEventListener('abort', this.onAbort);
    if (this.failure !== undefined) throw this.failure;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
