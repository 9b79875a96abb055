/** A bandwidth limit shared by all transfers of a session (`-l KBIT`, as OpenSSH's sftp). */

export class RateLimiter {
  /** When the bytes granted so far will have been "paid for" at the limit. */
  private nextFree = 0;

  constructor(
    private readonly bytesPerSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Resolves once `bytes` more fit under the limit. */
  take(bytes: number): Promise<void> {
    const t = this.now();
    // No credit for idle time beyond a short burst, so a pause is not followed by a flood.
    const start = Math.max(this.nextFree, t - 100);
    this.nextFree = start + (bytes / this.bytesPerSecond) * 1000;
    const wait = start - t;
    return wait > 0 ? new Promise((resolve) => setTimeout(resolve, wait)) : Promise.resolve();
  }
}
