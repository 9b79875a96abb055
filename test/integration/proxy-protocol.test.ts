/**
 * PROXY protocol headers sent straight from test sockets (HAProxy itself:
 * haproxy.test.ts): the address in a header is the one logins, bans, the log
 * and the console's sessions go by; a missing, malformed or untrusted header
 * ends the connection before the SSH banner, logged once.
 */
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import { expect } from 'chai';
import { Client, type ConnectConfig } from 'ssh2';
import { buf as crc32c } from 'crc-32/crc32c';
import { TLV, V2_SIGNATURE } from '../../src/ssh/proxy-header';
import { logLines, waitForLog } from '../helpers/probe';
import { makeDataDir, startTestServer, type TestServer } from '../helpers/server';
import { endClient } from '../helpers/ssh-client';
import { sshExec } from '../helpers/openssh';

const IDENT = Buffer.from('SSH-2.0-OpenSSH_9.2\r\n');

/** Connects from `localAddress`, sends `bytes`, resolves with all it received until closed. */
function exchange(port: number, localAddress: string, bytes: Buffer | undefined): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: '127.0.0.1', port, localAddress }, () => {
      if (bytes) s.write(bytes);
    });
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      // The server's identification line: it spoke, enough to know.
      if (Buffer.concat(chunks).includes('\r\n')) s.destroy();
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** Logs in with ssh2 over a socket that first sends `header`. */
function loginThrough(
  port: number,
  header: Buffer,
  password: string,
  user = 'zhangsan',
): Promise<Client> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port }, () => {
      sock.write(header);
      const client = new Client();
      const config: ConnectConfig = {
        sock,
        username: user,
        password,
        tryKeyboard: false,
        readyTimeout: 20000,
      };
      client.once('ready', () => resolve(client));
      client.once('error', reject);
      client.connect(config);
    });
    sock.once('error', reject);
  });
}

function v1(source: string, port: number, family: 'TCP4' | 'TCP6' = 'TCP4'): Buffer {
  const destination = family === 'TCP4' ? '127.0.0.1' : '::1';
  return Buffer.from(`PROXY ${family} ${source} ${destination} ${port} 22\r\n`);
}

/** A v2 PROXY header over TCP/IPv4 with `tlvs`, and a CRC32C of it all. */
function v2(source: number[], port: number, tlvs: Array<[number, Buffer]>): Buffer {
  const addresses = Buffer.alloc(12);
  Buffer.from(source).copy(addresses, 0);
  Buffer.from([127, 0, 0, 1]).copy(addresses, 4);
  addresses.writeUInt16BE(port, 8);
  addresses.writeUInt16BE(22, 10);
  const encoded = [...tlvs, [TLV.CRC32C, Buffer.alloc(4)] as [number, Buffer]].map(
    ([type, value]) => {
      const head = Buffer.from([type, 0, 0]);
      head.writeUInt16BE(value.length, 1);
      return Buffer.concat([head, value]);
    },
  );
  const body = Buffer.concat([addresses, ...encoded]);
  const fixed = Buffer.from([0x21, 0x11, 0, 0]);
  fixed.writeUInt16BE(body.length, 2);
  const header = Buffer.concat([V2_SIGNATURE, fixed, body]);
  header.writeUInt32BE(crc32c(header) >>> 0, header.length - 4);
  return header;
}

describe('PROXY protocol from trusted balancers', function () {
  this.timeout(30000);
  let server: TestServer;

  before(async function () {
    server = await startTestServer({
      flags: [
        '--proxy-protocol',
        '--trusted-proxies',
        '127.0.0.1/32,::1',
        '--proxy-header-timeout',
        '1s',
        '--ban-threshold',
        '2',
        '--account-lock-threshold',
        '0',
      ],
    });
  });

  after(async function () {
    await server?.stop();
  });

  it('a v1 TCP6 header: the login, the live connection and the log go by its address and port', async function () {
    const client = await loginThrough(server.port, v1('2001:DB8::7', 40007, 'TCP6'), '123');
    try {
      const live = server.connections.list().filter((c) => c.user === 'zhangsan');
      expect(live.map((c) => [c.ip, c.port])).to.deep.equal([['2001:db8::7', 40007]]);
      await waitForLog(server.dataDir, 'login.ok', { user: 'zhangsan', ip: '2001:db8::7' });
    } finally {
      await endClient(client);
    }
  });

  it('a v2 header with TLVs and a CRC32C: the address in it', async function () {
    const header = v2([203, 0, 113, 5], 50005, [
      [TLV.AUTHORITY, Buffer.from('sftp.example.org')],
      [TLV.UNIQUE_ID, Buffer.from('conn-42')],
    ]);
    const client = await loginThrough(server.port, header, '123');
    try {
      const live = server.connections.list().filter((c) => c.user === 'zhangsan');
      expect(live.map((c) => [c.ip, c.port])).to.deep.equal([['203.0.113.5', 50005]]);
    } finally {
      await endClient(client);
    }
  });

  it('the header and the SSH identification in one packet: the banner comes back', async function () {
    const answer = await exchange(
      server.port,
      '127.0.0.1',
      Buffer.concat([v1('192.0.2.44', 1044), IDENT]),
    );
    expect(answer.toString('latin1')).to.match(/^SSH-2\.0-MiniFTP/);
  });

  it('a header missing, malformed, from an untrusted address or never finished: closed before the banner, logged once', async function () {
    const { port, dataDir } = server;
    const before = (await logLines(dataDir)).length;
    expect((await exchange(port, '127.0.0.1', IDENT)).length, 'no header').to.equal(0);
    const malformed = Buffer.from('PROXY TCP4 192.0.2.1 nowhere 1 22\r\n');
    expect((await exchange(port, '127.0.0.1', malformed)).length, 'malformed').to.equal(0);
    const valid = Buffer.concat([v1('192.0.2.1', 5555), IDENT]);
    expect((await exchange(port, '127.0.0.4', valid)).length, 'untrusted').to.equal(0);
    // The header timeout is 1 s here.
    expect((await exchange(port, '127.0.0.1', valid.subarray(0, 10))).length, 'cut').to.equal(0);
    await waitForLog(dataDir, 'connection.refused', { ip: '127.0.0.4' });
    // Only refusals: a line of the test before may still be on its way.
    const lines = (await logLines(dataDir))
      .slice(before)
      .filter((l) => l.event === 'connection.refused');
    expect(
      lines.map((l) => `${String(l.event)} ${String(l.ip)} ${String(l.reason)}`),
    ).to.deep.equal([
      'connection.refused 127.0.0.1 the connection starts with SSH, not with a PROXY header',
      'connection.refused 127.0.0.1 PROXY line with a bad TCP4 address or port',
      'connection.refused 127.0.0.4 not a trusted proxy: PROXY protocol is on (balancer.trustedProxies)',
      'connection.refused 127.0.0.1 no complete PROXY header within 1 s',
    ]);
  });

  it("failed logins ban the header's address: it is refused before the banner, others are not", async function () {
    for (let i = 0; i < 2; i++) {
      const failed = await loginThrough(server.port, v1('198.51.100.9', 6000 + i), 'wrong').then(
        () => 'logged in',
        (err: Error) => err.message,
      );
      expect(failed).to.match(/authentication methods failed/);
    }
    await waitForLog(server.dataDir, 'ip.banned', { ip: '198.51.100.9' });
    const banned = await exchange(
      server.port,
      '127.0.0.1',
      Buffer.concat([v1('198.51.100.9', 6009), IDENT]),
    );
    expect(banned.length).to.equal(0);
    await waitForLog(server.dataDir, 'connection.refused', {
      ip: '198.51.100.9',
      reason: 'address is banned after failed logins',
    });
    // The balancer's own address, and another client behind it, are not banned.
    const other = await loginThrough(server.port, v1('198.51.100.10', 6010), '123');
    await endClient(other);
    const check = Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00]), IDENT]);
    expect((await exchange(server.port, '127.0.0.1', check)).toString('latin1')).to.match(
      /^SSH-2\.0-/,
    );
  });

  it('will not start with PROXY protocol on and no trusted balancer', async function () {
    const dataDir = await makeDataDir();
    try {
      const failed = await startTestServer({ flags: ['--proxy-protocol'], dataDir }).then(
        async (s) => {
          await s.close();
          return 'started';
        },
        (err: Error) => err.message,
      );
      expect(failed).to.match(/proxyProtocol is on but trustedProxies is empty/);
    } finally {
      await fsp.rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("the console's drain", function () {
  this.timeout(30000);

  it('refuses a timeout that is not a duration; with one, stops accepting and stops the server', async function () {
    const server = await startTestServer();
    try {
      const admin = { user: 'admin', password: 'password' };
      const bad = await sshExec(server.port, admin, ['drain', '--timeout', 'soon']);
      expect(bad.code).to.not.equal(0);
      expect(bad.stderr).to.include("--timeout must be a duration like 90s, 5m or 1h (got 'soon')");
      const drained = await sshExec(server.port, admin, ['drain', '--timeout', '0', '--json']);
      expect(drained.code, drained.stderr).to.equal(0);
      expect(JSON.parse(drained.stdout)).to.deep.equal({
        draining: true,
        already: false,
        timeout: 0,
      });
      await server.stopped;
      const refused = await new Promise<boolean>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port: server.port }, () => {
          s.destroy();
          resolve(false);
        });
        s.once('error', () => resolve(true));
      });
      expect(refused).to.equal(true);
      const events = (await logLines(server.dataDir)).map((l) => String(l.event));
      expect(events).to.include.members(['server.draining', 'server.stopped']);
    } finally {
      await server.stop();
    }
  });
});
