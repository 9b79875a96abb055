/**
 * The receive window of one ssh2 channel, sized by MiniFTP instead of ssh2.
 *
 * ssh2 (1.x) grants every channel a fixed window: 2 MiB at the open, topped
 * back up to 2 MiB whenever it falls to 1 MiB. One stream then moves at most
 * 2 MiB per round trip, 52 MB/s at 40 ms. This class takes that job over with
 * ssh2's own objects, without patching it:
 *
 * - The channel's `incoming.window` becomes an accessor that reports the real
 *   window plus a large constant. ssh2 reads that field to decide when to
 *   send its own WINDOW_ADJUST (at or below 1 MiB, up to 2 MiB) and to drop
 *   data at 0; with the constant added it never does either, and its
 *   `incoming.window -= data.length` reaches the real figure through the
 *   setter.
 * - MiniFTP sends WINDOW_ADJUST itself through ssh2's protocol object
 *   (`channelWindowAdjust`, the call ssh2 makes), after the bytes the window
 *   let in have been taken by the reader (`data` events).
 *
 * What the peer may send and what it has sent but nobody has read yet together
 * are this window's `claim`: the memory it has promised. `allowance` says how
 * large that claim may grow now (a fixed size, or a share of a budget).
 *
 * The accessor depends on ssh2's field names (`incoming`, `outgoing.id`,
 * `_client._protocol`); `takeReceiveWindow` checks them and returns undefined
 * when they are not there, and the tests that read the window off the wire
 * fail when ssh2 changes what they mean.
 */

/** Added to the real window in what ssh2 reads: above its 2 MiB, so it never adjusts. */
const HIDDEN = 1024 * 1024 * 1024;

/** The usual top-up: as often as ssh2 tops up its own 2 MiB window. */
const STEP = 1024 * 1024;

interface Ssh2ChannelState {
  incoming: { window: number };
  outgoing: { id: number; state: string };
  _client: { _protocol: { channelWindowAdjust(id: number, amount: number): void } };
}

/** The reading side of an ssh2 channel, as far as this class uses it. */
export interface ReadableChannel {
  readonly readableLength: number;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  once(event: 'close', listener: () => void): unknown;
}

export interface ReceiveWindowOptions {
  /**
   * The most the window's claim may be now, given its current claim. Asked
   * after every chunk read and on `refresh`.
   */
  allowance(claim: number): number;
  /** The claim grew (a WINDOW_ADJUST left) or shrank (a chunk was read, or the channel closed). */
  onClaim?(delta: number): void;
  /** The peer sent more than the window allowed: the caller ends the channel. */
  onOverrun?(): void;
  /** `bytes` arrived; `unread` is what has arrived and waits for the reader (for a WindowTuner). */
  onArrival?(bytes: number, unread: number): void;
}

function hasSsh2State(channel: object): channel is Ssh2ChannelState {
  const c = channel as Partial<Ssh2ChannelState>;
  return (
    typeof c.incoming?.window === 'number' &&
    typeof c.outgoing?.id === 'number' &&
    typeof c._client?._protocol?.channelWindowAdjust === 'function'
  );
}

export class ReceiveWindow {
  /** Bytes the peer may still send. */
  private remaining: number;
  /** Bytes promised and not yet read: `remaining` plus what waits in the channel's buffer. */
  private claimed: number;
  /** Every WINDOW_ADJUST amount this window sent, in order (for the log and the tests). */
  readonly adjustments: number[] = [];
  private closed = false;

  private constructor(
    private readonly channel: ReadableChannel & Ssh2ChannelState,
    private readonly o: ReceiveWindowOptions,
  ) {
    const incoming = channel.incoming;
    this.remaining = incoming.window;
    this.claimed = incoming.window + channel.readableLength;
    o.onClaim?.(this.claimed);
    Object.defineProperty(incoming, 'window', {
      configurable: true,
      enumerable: true,
      get: () => this.remaining + HIDDEN,
      set: (v: number) => this.received(this.remaining + HIDDEN - v),
    });
    channel.on('data', (chunk: Buffer) => this.read(chunk.length));
    channel.once('close', () => this.close());
  }

  /**
   * Takes the window of `channel` (an ssh2 channel, server or client side)
   * over; undefined when ssh2's objects are not as expected, and the channel
   * then keeps ssh2's own window. Attach after the channel's reader, so that
   * the 'data' listener added here does not start the flow early. Nothing is
   * granted until `refresh`. Undefined too for a channel closed already.
   */
  static take(channel: ReadableChannel, o: ReceiveWindowOptions): ReceiveWindow | undefined {
    if (!hasSsh2State(channel)) return undefined;
    // Closed already (its client left while the session started): nothing to take.
    if (channel.outgoing.state !== 'open') return undefined;
    return new ReceiveWindow(channel as ReadableChannel & Ssh2ChannelState, o);
  }

  /** What the peer may still send. */
  get window(): number {
    return this.remaining;
  }

  /** What this window has promised: what the peer may send plus what waits unread. */
  get claim(): number {
    return this.claimed;
  }

  /** Grants what the allowance permits now (after it changed, or at the start). */
  refresh(): void {
    if (this.closed || this.channel.outgoing.state !== 'open') return;
    const want = this.o.allowance(this.claimed);
    const grant = want - this.claimed;
    // Small adjusts cost a packet each, large ones arrive in bursts: top up
    // once STEP (or an eighth of a smaller allowance) is free.
    if (grant <= 0 || grant < Math.min(STEP, want / 8)) return;
    this.remaining += grant;
    this.claimed += grant;
    this.adjustments.push(grant);
    this.o.onClaim?.(grant);
    this.channel._client._protocol.channelWindowAdjust(this.channel.outgoing.id, grant);
  }

  private received(bytes: number): void {
    if (bytes < 0) return;
    this.remaining -= bytes;
    if (this.remaining < 0 && !this.closed) {
      this.remaining = 0;
      this.o.onOverrun?.();
      return;
    }
    this.o.onArrival?.(bytes, this.claimed - this.remaining);
  }

  private read(bytes: number): void {
    this.claimed -= bytes;
    this.o.onClaim?.(-bytes);
    this.refresh();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.o.onClaim?.(-this.claimed);
    this.claimed = 0;
  }
}
