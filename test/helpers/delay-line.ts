/**
 * A delay line: a TCP proxy on loopback that holds every chunk it reads for
 * half the round-trip time before it writes it on, in each direction, in
 * order, with no bandwidth cap. Put in front of a server, it makes loopback
 * behave like a long link for what depends on the round trip (windows,
 * requests in flight, one request after another).
 *
 * Each direction is a queue of chunks with the time each may leave; one timer
 * waits for the head. Reading is never paused (the far side's window, not the
 * proxy, bounds what is in flight), so memory is what is in flight.
 */
import * as net from 'node:net';

interface Held {
  readonly at: number;
  readonly chunk: Buffer;
}

/** One direction of one connection: chunks from `from`, written to `to` after `delayMs`. */
class Lane {
  private readonly queue: Held[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    from: net.Socket,
    private readonly to: net.Socket,
    delayMs: number,
  ) {
    from.on('data', (chunk: Buffer) => {
      this.queue.push({ at: performance.now() + delayMs, chunk });
      this.schedule();
    });
    from.on('end', () => {
      this.ended = true;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer) return;
    const next = this.queue[this.head];
    if (!next) {
      if (this.ended) this.to.end();
      return;
    }
    const wait = Math.max(0, next.at - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }

  private flush(): void {
    const now = performance.now();
    // Timers fire up to a millisecond early or late: send everything that is due.
    for (let h = this.queue[this.head]; h && h.at <= now + 0.5; h = this.queue[this.head]) {
      this.to.write(h.chunk);
      this.head++;
    }
    if (this.head > 1024) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.schedule();
  }
}

export interface DelayLine {
  readonly port: number;
  readonly rttMs: number;
  close(): Promise<void>;
}

/** Starts a delay line of `rttMs` on 127.0.0.1 (a free port) in front of `targetPort`. */
export function startDelayLine(targetPort: number, rttMs: number): Promise<DelayLine> {
  const sockets = new Set<net.Socket>();
  const half = rttMs / 2;
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    }
    // The connection itself takes a round trip, as a real one would (SYN out, SYN-ACK back).
    client.pause();
    upstream.once('connect', () => setTimeout(() => client.resume(), rttMs));
    new Lane(client, upstream, half);
    new Lane(upstream, client, half);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as net.AddressInfo;
      resolve({
        port: address.port,
        rttMs,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
