/**
 * Sizes one receive window to the path it serves, as TCP sizes its receive
 * buffer: large enough that the sender is not held back by it, and no larger.
 *
 * A stream moves at most one window per round trip. The tuner counts epochs
 * of one window's worth of bytes received and compares each epoch's length
 * with the round trip (the least recently seen, `roundTripMs`):
 *
 * - A whole window arrived within about one round trip (1.5 of them): the
 *   sender sent all it was allowed as fast as the path carries it, so the
 *   window held the stream back. It doubles, up to the ceiling, unless the
 *   reader is what falls behind (more than a quarter of the window waiting
 *   unread).
 * - A window took four round trips or more to arrive (or that long passed
 *   without a whole one): something else holds the stream back (the sender's
 *   own requests in flight, its CPU, the network, the receiver's disk). The
 *   window shrinks to twice what arrived per round trip (half or less of what
 *   it was), down to the floor; a window then takes about two round trips.
 * - In between, it stays: the two thresholds keep it from swinging.
 *
 * A window much larger than the stream needs is not only memory promised: a
 * sender that buffers everything the window allows before its socket takes it
 * slows down as that buffer grows (the stock OpenSSH client does: it copies
 * its whole channel buffer as it grows), and stays slow while the window
 * keeps being topped up. A window sized to the path keeps that buffer small,
 * and shrinks when the stream slows, which lets such a sender drain it.
 *
 * With no round trip known yet the window stays at the floor. A smaller target
 * does not take back what was granted: the window shrinks as the sender uses
 * it and is topped up to the new target only.
 */

export interface WindowTunerOptions {
  /** The smallest target, and the first. */
  readonly floor: number;
  /** The largest target now (the setting, or a share of a budget). */
  ceiling(): number;
  /** The round trip in ms, or undefined while none has been seen. */
  roundTripMs(): number | undefined;
  /** Clock in ms (tests replace it). */
  readonly now?: () => number;
}

/** Added to a round trip before comparing: the event loop's own latency. */
const SLACK_MS = 2;

export class WindowTuner {
  private size: number;
  private epochBytes = 0;
  private epochStart: number;
  private mostUnread = 0;
  private readonly now: () => number;

  constructor(private readonly o: WindowTunerOptions) {
    this.size = o.floor;
    this.now = o.now ?? (() => performance.now());
    this.epochStart = this.now();
  }

  /** What the window should be now. */
  get target(): number {
    return this.size;
  }

  /** `bytes` arrived; `unread` is what has arrived and waits for the reader. */
  arrived(bytes: number, unread: number): void {
    const at = this.now();
    // The first bytes after a pause start an epoch: the pause is not the path's.
    if (this.epochBytes === 0) this.epochStart = at;
    this.epochBytes += bytes;
    if (unread > this.mostUnread) this.mostUnread = unread;
    const rtt = this.o.roundTripMs();
    if (rtt === undefined) {
      if (this.epochBytes >= this.size) this.restart(at);
      return;
    }
    const took = at - this.epochStart;
    const slow = took >= 4 * rtt + SLACK_MS;
    if (this.epochBytes < this.size && !slow) return;
    if (slow) {
      // What arrived per round trip, twice over: half the window or less, since
      // the epoch took four round trips or more; a stalled stream drops to the floor.
      const perTrip = (this.epochBytes * rtt) / Math.max(took, 1);
      this.size = Math.max(this.o.floor, Math.floor(2 * perTrip));
    } else if (took <= 1.5 * rtt + SLACK_MS && this.mostUnread <= this.size / 4) {
      this.size = Math.max(this.size, Math.min(this.o.ceiling(), this.size * 2));
    }
    this.restart(at);
  }

  private restart(at: number): void {
    this.epochBytes = 0;
    this.epochStart = at;
    this.mostUnread = 0;
  }
}
