/** A local HTTP receiver for event hooks: records each POST and answers as the test says. */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
}

/** What to do with request number `n` (0-based): an HTTP status, or 'hold' to never answer. */
export type Answer = (n: number, r: Received) => number | 'hold';

export class HookReceiver {
  readonly received: Received[] = [];
  private readonly server: http.Server;
  private readonly held: http.ServerResponse[] = [];
  private waiters: Array<() => void> = [];

  constructor(private answer: Answer = () => 200) {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        const r = { headers: req.headers, body, json: JSON.parse(body) as Record<string, unknown> };
        const n = this.received.length;
        this.received.push(r);
        const a = this.answer(n, r);
        if (a === 'hold') this.held.push(res);
        else res.writeHead(a).end();
        for (const w of this.waiters.splice(0)) w();
      });
    });
  }

  setAnswer(answer: Answer): void {
    this.answer = answer;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  /** Resolves once `n` requests have arrived. */
  async waitFor(n: number, ms = 15000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.received.length < n) {
      if (Date.now() > deadline)
        throw new Error(`hook receiver: ${this.received.length} of ${n} requests`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  /** Drops the requests being held without an answer. */
  dropHeld(): void {
    for (const res of this.held.splice(0)) res.socket?.destroy();
  }

  async close(): Promise<void> {
    this.dropHeld();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
