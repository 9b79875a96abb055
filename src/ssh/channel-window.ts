/**
 * The receive windows of the server's SFTP channels and the one budget they
 * share. For an upload the server is the receiver: the window it grants is
 * what the client may have in flight, so one stream moves at most window /
 * round trip. A window is also a promise to take that many bytes, held in
 * memory until the session reads them, so the promises of all channels
 * together stay within `budget` bytes:
 *
 * - each channel may claim at most `window`, and at most an equal share of
 *   the budget among the SFTP channels open (`budget / channels`);
 * - a grant never takes the total of claims over the budget;
 * - every channel keeps at least `FLOOR` (ssh2's own window: what every
 *   channel had before), so that a channel never waits on the others for its
 *   first bytes;
 * - a window grows only as its bytes are read: a session that stops reading
 *   (too many requests pending, a disk slower than the network) stops being
 *   granted more, and its window shrinks as the client uses it.
 *
 * An SSH window cannot be taken back: when more channels open, the windows
 * already granted shrink as they are used, and are topped up to the smaller
 * share only.
 */
import * as os from 'node:os';
import type { Logger } from '../log/types';
import { ReceiveWindow, type ReadableChannel } from '../util/receive-window';
import { WindowTuner } from '../util/window-tuner';

const MiB = 1024 * 1024;

/** ssh2's window: 2 MiB, as OpenSSH's. Every channel may keep this much whatever the budget. */
export const FLOOR = 2 * MiB;

/**
 * Where a channel's tuned window starts and the least it is tuned down to:
 * twice ssh2's, the fastest fixed size measured for the stock client on
 * loopback and at 40 ms (within the setting and the budget's share).
 */
export const TUNED_FLOOR = 4 * MiB;

/**
 * The budget in bytes for the setting `channelWindowBudget`: itself, or for 0
 * 1/64 of the machine's memory, from 32 MiB to 128 MiB (with 8 clients
 * uploading, 16 MiB each).
 */
export function windowBudget(setting: number, totalMemory = os.totalmem()): number {
  if (setting > 0) return setting;
  return Math.min(128 * MiB, Math.max(32 * MiB, Math.floor(totalMemory / 64)));
}

export interface WindowSettings {
  /** The largest window one channel is granted, in bytes; FLOOR or less keeps ssh2's. */
  readonly window: number;
  /** Bytes all channels' windows may promise together; 0 for no budget. */
  readonly budget: number;
}

export class ChannelWindows {
  private readonly open = new Set<ReceiveWindow>();
  private total = 0;

  constructor(
    private readonly settings: WindowSettings,
    private readonly logger?: Logger,
  ) {}

  /** Bytes promised by all channels together: what their clients may send plus what waits unread. */
  get claimed(): number {
    return this.total;
  }

  /** Channels whose windows are counted. */
  get channels(): number {
    return this.open.size;
  }

  /** What one channel may claim while `n` are open. */
  share(n = Math.max(1, this.open.size)): number {
    const { window, budget } = this.settings;
    const cap = budget > 0 ? Math.min(window, Math.floor(budget / n)) : window;
    return Math.max(FLOOR, cap);
  }

  /**
   * Takes the window of an SFTP channel over; call after the session has
   * attached its reader. `end` is called when the client sends more than it
   * was allowed. Undefined when the window stays ssh2's (the setting at
   * FLOOR or below, or an ssh2 whose channels look different).
   */
  attach(
    channel: ReadableChannel,
    end: () => void,
    roundTripMs: () => number | undefined = () => undefined,
  ): ReceiveWindow | undefined {
    if (this.settings.window <= FLOOR) return undefined;
    let self: ReceiveWindow | undefined;
    const tuner = new WindowTuner({
      floor: Math.min(TUNED_FLOOR, this.settings.window),
      ceiling: () => this.share(),
      roundTripMs,
    });
    const w = ReceiveWindow.take(channel, {
      allowance: (claim) => this.allowance(claim, tuner.target),
      onArrival: (bytes, unread) => tuner.arrived(bytes, unread),
      onClaim: (delta) => (this.total += delta),
      onOverrun: () => {
        this.logger?.warn('channel.window_overrun', {});
        end();
      },
    });
    if (!w) {
      const state = (channel as { outgoing?: { state?: unknown } }).outgoing?.state;
      if (state === 'closed') return undefined;
      this.logger?.warn('channel.window_unavailable', {
        reason: "ssh2's channel state is not as expected: the channel keeps ssh2's 2 MiB window",
      });
      return undefined;
    }
    self = w;
    this.open.add(self);
    channel.once('close', () => {
      if (self) this.open.delete(self);
      self = undefined;
    });
    w.refresh();
    return w;
  }

  private allowance(claim: number, target: number): number {
    const share = Math.max(FLOOR, Math.min(target, this.share()));
    const { budget } = this.settings;
    if (budget <= 0) return share;
    const room = budget - this.total;
    return Math.max(FLOOR, Math.min(share, claim + room));
  }
}
