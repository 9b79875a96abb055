/**
 * The SSH channel windows for long links: what the server grants an SFTP
 * channel, read off the wire by ssh2's client (its `outgoing.window` is the
 * sum of the server's CHANNEL_OPEN_CONFIRMATION window and WINDOW_ADJUSTs,
 * less what it sent), through a delay line of 200 ms: the window starts at
 * 2 MiB, grows while it holds an upload back, never past the setting, and all
 * sessions' windows together stay within the budget.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { expect } from 'chai';
import type { Client, ClientChannel } from 'ssh2';
import { FLOOR, TUNED_FLOOR } from '../../src/ssh/channel-window';
import { startTestServer, type TestServer } from '../helpers/server';
import { connectClient, endClient } from '../helpers/ssh-client';
import { startDelayLine, type DelayLine } from '../helpers/delay-line';
import { RawSftp } from '../helpers/raw-sftp';
import { OpenFlag, PacketType } from '../../src/sftp/constants';

const MiB = 1024 * 1024;

/**
 * What the server has granted on each channel of `client`, by the client's
 * channel id: the window of its CHANNEL_OPEN_CONFIRMATION plus every
 * WINDOW_ADJUST since. Install right after the login, before any channel.
 */
class Grants {
  private readonly adjusts = new Map<number, number[]>();
  private readonly opened = new Map<number, number>();

  /** `onAdjust` is called after each WINDOW_ADJUST has been counted by ssh2. */
  constructor(client: Client, onAdjust: () => void = () => undefined) {
    const protocol = (client as unknown as { _protocol: { _handlers: Record<string, Handler> } })
      ._protocol;
    const h = protocol._handlers;
    const confirm = h.CHANNEL_OPEN_CONFIRMATION as Handler;
    h.CHANNEL_OPEN_CONFIRMATION = (p, info) => {
      const i = info as { recipient: number; window: number };
      this.opened.set(i.recipient, i.window);
      confirm(p, info);
    };
    const adjust = h.CHANNEL_WINDOW_ADJUST as Handler;
    h.CHANNEL_WINDOW_ADJUST = (p, recipient, amount) => {
      const list = this.adjusts.get(recipient as number) ?? [];
      list.push(amount as number);
      this.adjusts.set(recipient as number, list);
      adjust(p, recipient, amount);
      onAdjust();
    };
  }

  /** The WINDOW_ADJUST amounts on `channel`. */
  adjustsOf(channel: ClientChannel): number[] {
    return this.adjusts.get(idOf(channel)) ?? [];
  }

  /** Everything granted on `channel` so far. */
  totalOf(channel: ClientChannel): number {
    const initial = this.opened.get(idOf(channel));
    if (initial === undefined) throw new Error('the channel was opened before the recording');
    return initial + this.adjustsOf(channel).reduce((a, b) => a + b, 0);
  }
}

type Handler = (p: unknown, a?: unknown, b?: unknown) => void;

function idOf(channel: ClientChannel): number {
  return (channel as unknown as { incoming: { id: number } }).incoming.id;
}

/** What the server still lets this client send on the channel, as ssh2's client counts it. */
function remainingOf(channel: ClientChannel): number {
  const outgoing = (channel as unknown as { outgoing?: { window?: unknown } }).outgoing;
  if (typeof outgoing?.window !== 'number') throw new Error("ssh2's client channel has no window");
  return outgoing.window;
}

describe('long links: SSH channel windows', function () {
  this.timeout(120_000);
  const creds = { user: 'zhangsan', password: '123' };
  const block = randomBytes(256 * 1024);

  /**
   * Uploads `blocks` × 256 KiB to `name` with 64 WRITEs in flight (16 MiB, as
   * the stock sftp client keeps) and resolves with the file's MD5.
   */
  async function upload(raw: RawSftp, name: string, blocks: number): Promise<string> {
    const handle = await raw.open(name, OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC);
    const md5 = createHash('md5');
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < blocks; i++) {
      md5.update(block);
      writes.push(raw.write(handle, i * block.length, block));
      if (writes.length >= 64) await Promise.all(writes.splice(0, 16));
    }
    await Promise.all(writes);
    await raw.close(handle);
    return md5.digest('hex');
  }

  async function md5OnDisk(server: TestServer, name: string): Promise<string> {
    const data = await fsp.readFile(`${server.home('zhangsan')}${name}`);
    return createHash('md5').update(data).digest('hex');
  }

  describe('one upload through a 200 ms delay line', function () {
    let server: TestServer;
    let line: DelayLine;

    before(async function () {
      server = await startTestServer({ flags: ['--channel-window', '16M'] });
      line = await startDelayLine(server.port, 200);
    });

    after(async function () {
      await line?.close();
      await server?.stop();
    });

    it('starts at 4 MiB, grows while the window holds the upload back, never past --channel-window', async function () {
      const client = await connectClient(line.port, creds);
      let largest = 0;
      let raw: RawSftp | undefined;
      const grants = new Grants(client, () => {
        if (raw) largest = Math.max(largest, remainingOf(raw.channel));
      });
      try {
        raw = await RawSftp.open(client);
        await raw.request(PacketType.STAT, (w) => w.string('/'));
        // 4 MiB at first: a larger window is granted as the link shows it needs one.
        expect(grants.totalOf(raw.channel)).to.equal(TUNED_FLOOR);
        const sent = await upload(raw, '/big.bin', 96);
        expect(await md5OnDisk(server, '/big.bin')).to.equal(sent);
        expect(largest, 'the largest window the client was given').to.be.above(TUNED_FLOOR);
        expect(largest).to.be.at.most(16 * MiB);
        expect(Math.max(...grants.adjustsOf(raw.channel))).to.be.at.most(16 * MiB);
        await raw.end();
      } finally {
        await endClient(client);
      }
    });
  });

  describe("ssh2's window", function () {
    it('stays at 2 MiB with --channel-window 2M', async function () {
      const server = await startTestServer({ flags: ['--channel-window', '2M'] });
      const client = await connectClient(server.port, creds);
      const grants = new Grants(client);
      try {
        const raw = await RawSftp.open(client);
        await raw.request(PacketType.STAT, (w) => w.string('/'));
        expect(grants.totalOf(raw.channel)).to.equal(FLOOR);
        expect(grants.adjustsOf(raw.channel)).to.deep.equal([]);
        await raw.end();
      } finally {
        await endClient(client);
        await server.stop();
      }
    });
  });

  describe('the budget', function () {
    it('keeps the windows of four uploads together within it, each past 2 MiB only as it leaves room', async function () {
      const server = await startTestServer({
        flags: ['--channel-window', '16M', '--channel-window-budget', '12M'],
      });
      const line = await startDelayLine(server.port, 200);
      const clients: Client[] = [];
      try {
        const raws: RawSftp[] = [];
        let most = 0;
        let largest = 0;
        // What the four clients may send at once, summed whenever one is granted more.
        const check = (): void => {
          const windows = raws.map((r) => remainingOf(r.channel));
          most = Math.max(
            most,
            windows.reduce((a, b) => a + b, 0),
          );
          largest = Math.max(largest, ...windows);
        };
        // The four log in at once: each login takes several round trips of the line.
        await Promise.all(
          [0, 1, 2, 3].map(async (i) => {
            const client = await connectClient(line.port, creds);
            clients.push(client);
            new Grants(client, check);
            raws[i] = await RawSftp.open(client);
          }),
        );
        const sent = await Promise.all(raws.map((r, i) => upload(r, `/part${i}.bin`, 24)));
        for (let i = 0; i < 4; i++)
          expect(await md5OnDisk(server, `/part${i}.bin`)).to.equal(sent[i]);
        expect(most, 'the four windows together').to.be.at.most(12 * MiB);
        expect(largest, 'the largest single window').to.be.above(FLOOR);
        for (const r of raws) await r.end();
      } finally {
        for (const c of clients) await endClient(c);
        await line.close();
        await server.stop();
      }
    });
  });
});
