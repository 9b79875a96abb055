/**
 * The SSH channel windows for long links: what the server grants an SFTP
 * channel, read off the wire by ssh2's client (its `outgoing.window` is the
 * sum of the server's CHANNEL_OPEN_CONFIRMATION window and WINDOW_ADJUSTs,
 * less what it sent), and how the shared budget shrinks the grants as more
 * sessions open.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { expect } from 'chai';
import type { Client, ClientChannel } from 'ssh2';
import { FLOOR } from '../../src/ssh/channel-window';
import { startTestServer, type TestServer } from '../helpers/server';
import { connectClient, endClient } from '../helpers/ssh-client';
import { waitUntil } from '../helpers/probe';
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

  constructor(client: Client) {
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
  this.timeout(60_000);

  describe('the window setting', function () {
    let server: TestServer;
    let client: Client;
    let grants: Grants;

    before(async function () {
      server = await startTestServer({ flags: ['--channel-window', '16M'] });
      client = await connectClient(server.port, { user: 'zhangsan', password: '123' });
      grants = new Grants(client);
    });

    after(async function () {
      if (client) await endClient(client);
      await server?.stop();
    });

    it('grants an SFTP channel the configured window, and tops it up as the data is read', async function () {
      const raw = await RawSftp.open(client);
      await waitUntil('the 16 MiB window', () => grants.totalOf(raw.channel) === 16 * MiB);
      expect(grants.adjustsOf(raw.channel)).to.deep.equal([16 * MiB - FLOOR]);
      // 48 MiB through a 16 MiB window: the server must grant again as it reads.
      const handle = await raw.open('/big.bin', OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC);
      const block = randomBytes(256 * 1024);
      const md5 = createHash('md5');
      const writes: Array<Promise<void>> = [];
      for (let i = 0; i < 192; i++) {
        md5.update(block);
        writes.push(raw.write(handle, i * block.length, block));
        // 48 requests in flight at most, as a client keeps a bounded number outstanding.
        if (writes.length >= 48) await Promise.all(writes.splice(0, 16));
      }
      await Promise.all(writes);
      await raw.close(handle);
      const sent = 192 * (block.length + 1024);
      expect(grants.totalOf(raw.channel), 'granted by WINDOW_ADJUST').to.be.at.least(
        sent - 16 * MiB,
      );
      // Each grant tops the window up towards 16 MiB, never past it.
      expect(remainingOf(raw.channel)).to.be.at.most(16 * MiB);
      expect(Math.max(...grants.adjustsOf(raw.channel))).to.be.at.most(16 * MiB);
      const onDisk = await fsp.readFile(`${server.home('zhangsan')}/big.bin`);
      expect(createHash('md5').update(onDisk).digest('hex')).to.equal(md5.digest('hex'));
      await raw.end();
    });
  });

  describe("ssh2's window", function () {
    it('stays at 2 MiB with --channel-window 2M', async function () {
      const server = await startTestServer({ flags: ['--channel-window', '2M'] });
      const client = await connectClient(server.port, { user: 'zhangsan', password: '123' });
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
    it('shrinks the grants of new sessions as more are open, never below 2 MiB', async function () {
      const server = await startTestServer({
        flags: ['--channel-window', '16M', '--channel-window-budget', '24M'],
      });
      const clients: Client[] = [];
      try {
        const grants: number[] = [];
        for (let i = 0; i < 4; i++) {
          const client = await connectClient(server.port, { user: 'zhangsan', password: '123' });
          clients.push(client);
          const seen = new Grants(client);
          const raw = await RawSftp.open(client);
          // The server grants right after the subsystem starts; a round trip later it has arrived.
          await raw.request(PacketType.STAT, (w) => w.string('/'));
          grants.push(seen.totalOf(raw.channel));
        }
        // 1st: min(16, 24/1) = 16. 2nd: share 12, but 16 + 2 (its ssh2 window) are claimed, so
        // 24 - 18 more: 8. 3rd and 4th: the budget is spent: ssh2's 2 MiB.
        // (Give or take the few bytes of INIT and STAT the earlier sessions have read.)
        expect(grants.map((g) => Math.round(g / 1024) / 1024)).to.deep.equal([16, 8, 2, 2]);
      } finally {
        for (const c of clients) await endClient(c);
        await server.stop();
      }
    });
  });
});
