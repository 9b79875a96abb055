/**
 * The round trip of one connection, from exchanges where the peer can only
 * answer once our message has reached it: a channel confirmation and the
 * request that follows it, an SFTP VERSION and the first request. The least
 * sample is kept: the others include time either side spent elsewhere.
 */
export class RoundTrip {
  private since: number | undefined;
  private least: number | undefined;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** A message the peer must receive before it can send its next one has left. */
  sent(): void {
    this.since = this.now();
  }

  /** The peer's next message arrived: one sample, if a message was awaiting it. */
  heard(): void {
    if (this.since === undefined) return;
    const sample = this.now() - this.since;
    this.since = undefined;
    if (this.least === undefined || sample < this.least) this.least = sample;
  }

  /** The least round trip seen, in ms; undefined before the first sample. */
  get ms(): number | undefined {
    return this.least;
  }
}
