/**
 * Address lists behind a balancer speaking the PROXY protocol: the address checked is the one in
 * the header (the one admission holds), globally before the SSH banner and per user at login.
 */
import * as net from 'node:net';
import { expect } from 'chai';
import { Client } from 'ssh2';
import { waitForLog } from '../helpers/probe';
import { startTestServer, type TestServer } from '../helpers/server';
import { endClient } from '../helpers/ssh-client';

/** A PROXY v1 line from `source` through the balancer on 127.0.0.1. */
function proxyLine(source: string, port: number): Buffer {
  return Buffer.from(`PROXY TCP4 ${source} 127.0.0.1 ${port} 22\r\n`);
}

/** Sends a header and an identification line; resolves with what the server said before closing. */
function firstWords(port: number, header: Buffer): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = net.connect({ host: '127.0.0.1', port }, () =>
      s.write(Buffer.concat([header, Buffer.from('SSH-2.0-Probe_1\r\n')])),
    );
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) s.destroy();
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
  });
}

/** Logs in as zhangsan with ssh2 over a socket that starts with `header`. */
function login(port: number, header: Buffer): Promise<Client> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port }, () => {
      sock.write(header);
      const client = new Client();
      client.once('ready', () => resolve(client));
      client.once('error', reject);
      client.connect({ sock, username: 'zhangsan', password: '123', tryKeyboard: false });
    });
    sock.once('error', reject);
  });
}

describe('ops: address lists behind a PROXY-protocol balancer', function () {
  this.timeout(30000);
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      flags: ['--proxy-protocol', '--trusted-proxies', '127.0.0.1/32'],
    });
    const at = new Date();
    await server.ops.store.addresses.add({ user: '', action: 'deny', cidr: '192.0.2.0/24' }, at);
    await server.ops.store.addresses.add(
      { user: 'zhangsan', action: 'deny', cidr: '198.51.100.0/25' },
      at,
    );
    await server.ops.reload();
  });

  after(async () => {
    await server.stop();
  });

  it("refuses the header's address before the banner, not the balancer's", async () => {
    expect(await firstWords(server.port, proxyLine('192.0.2.9', 4000))).to.equal('');
    const line = await waitForLog(server.dataDir, 'connection.refused', { ip: '192.0.2.9' });
    expect(line.reason).to.equal('address in the deny list');
    expect(await firstWords(server.port, proxyLine('203.0.113.5', 4001))).to.match(/^SSH-2\.0-/);
  });

  it("refuses a login by the user's own list, by the header's address", async () => {
    const err = await login(server.port, proxyLine('198.51.100.11', 4002)).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).to.be.instanceOf(Error);
    const line = await waitForLog(server.dataDir, 'login.refused', { ip: '198.51.100.11' });
    expect(line.reason).to.equal('address in the deny list of this user');
    const [row] = await server.ops.store.logins.query({ user: 'zhangsan', limit: 1 });
    expect(row).to.include({ address: '198.51.100.11', result: 'refused' });
    await endClient(await login(server.port, proxyLine('198.51.100.200', 4003)));
  });
});
