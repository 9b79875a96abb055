/**
 * The SFTP fuzzing of test/unit/sftp-session-fuzz.test.ts, in smaller volume, over
 * real SSH: generated and mutated packets on raw `subsys('sftp')` channels of
 * a running server. Each channel must be answered or closed, never hang; the
 * connection and the server must keep serving; nothing may escape the home.
 */
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import type { Client } from 'ssh2';
import { PacketFramer } from '../../src/sftp/codec';
import { logLines } from '../helpers/probe';
import { INIT, checkReplies, frame, packetArb } from '../helpers/sftp-packets';
import { startTestServer, type TestServer } from '../helpers/server';
import { call, connectClient, endClient, openSftp } from '../helpers/ssh-client';

/** A channel still open this long after the client's EOF is hung. */
const HANG_MS = 10000;

/** Sends INIT, `stream` and EOF on a fresh SFTP channel; resolves with every packet received. */
function exchange(client: Client, stream: Buffer): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    client.subsys('sftp', (err, channel) => {
      if (err) {
        reject(err);
        return;
      }
      const framer = new PacketFramer(64 * 1024 * 1024);
      const replies: Buffer[] = [];
      const timer = setTimeout(() => {
        channel.destroy();
        reject(new Error(`the channel was still open ${HANG_MS} ms after EOF`));
      }, HANG_MS);
      channel.on('data', (chunk: Buffer) => {
        framer.push(chunk);
        for (let body = framer.next(); body; body = framer.next()) replies.push(body);
      });
      channel.stderr.resume();
      channel.once('close', () => {
        clearTimeout(timer);
        resolve(replies);
      });
      channel.write(INIT);
      channel.end(stream);
    });
  });
}

describe('hardening: fuzzing over SSH', function () {
  this.timeout(60000);
  let server: TestServer;
  let client: Client;
  let rejections: unknown[];
  let docsBefore: string[];
  const onRejection = (reason: unknown): void => {
    rejections.push(reason);
  };

  before(async function () {
    rejections = [];
    process.on('unhandledRejection', onRejection);
    server = await startTestServer();
    const home = server.home('zhangsan');
    await fsp.mkdir(path.join(home, 'dir'), { recursive: true });
    await fsp.writeFile(path.join(home, 'f1'), Buffer.alloc(5000, 7));
    await fsp.writeFile(path.join(home, 'dir', 'f2'), 'hello');
    await fsp.symlink(server.dataDir, path.join(home, 'link-out'));
    execFileSync('mkfifo', [path.join(home, 'fifo')]);
    docsBefore = (await fsp.readdir(path.join(server.dataDir, 'docs'))).sort();
    client = await connectClient(server.port, { user: 'zhangsan', password: '123' });
  });

  after(async function () {
    process.off('unhandledRejection', onRejection);
    if (client) await endClient(client);
    await server?.stop();
  });

  it('answers or closes every channel of generated and mutated packets', async function () {
    let packets = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(packetArb(12), { minLength: 1, maxLength: 30 }), async (list) => {
        packets += list.length;
        const stream = Buffer.concat(list.map(frame));
        checkReplies({
          stream,
          replies: await exchange(client, stream),
          maxPacket: server.config.limits.maxPacket,
          gaveUp: undefined,
          secret: server.dataDir,
        });
      }),
      { numRuns: 150 },
    );
    console.log(`      ${packets} packets on 150 channels`);
    expect(rejections.map(String), 'unhandled promise rejections').to.deep.equal([]);
  });

  it('still serves normally afterwards, with no internal errors logged', async function () {
    const sftp = await openSftp(client);
    const h = await call<Buffer>((cb) => sftp.open('/after.txt', 'w', cb));
    await call((cb) => sftp.write(h, Buffer.from('fine'), 0, 4, 0, cb));
    await call((cb) => sftp.close(h, cb));
    expect(await fsp.readFile(path.join(server.home('zhangsan'), 'after.txt'), 'utf8')).to.equal(
      'fine',
    );
    sftp.end();
    // A new connection too.
    const other = await connectClient(server.port, { user: 'zhangsan', password: '123' });
    await endClient(other);
    const errors = (await logLines(server.dataDir)).filter((l) => l.level === 'error');
    expect(errors).to.deep.equal([]);
    // Nothing was created outside the home, not even through link-out (the data directory).
    expect((await fsp.readdir(path.join(server.dataDir, 'docs'))).sort()).to.deep.equal(docsBefore);
    const top = await fsp.readdir(server.dataDir);
    expect(top.filter((n) => !/^(docs|log|miniftp\.db.*)$/.test(n))).to.deep.equal([]);
  });
});
