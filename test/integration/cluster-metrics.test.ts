/**
 * Metrics of a node with several workers: the primary holds the node's one
 * /metrics listener and sums every worker's figures, so logins served by
 * either worker all show in one scrape.
 */
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import { expect } from 'chai';
import { haveOpenSsh, sftpBatch } from '../helpers/openssh';
import { makeDataDir } from '../helpers/server';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';

const CREDS = { user: 'zhangsan', password: '123' };

/** A loopback port free at the time of asking. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** The sum of a counter's samples whose labels contain `labels`. */
function counter(body: string, name: string, labels: string): number {
  return body
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('cluster: one metrics endpoint for the workers of a node', function () {
  let dataDir: string;
  let node: ServerProcess | undefined;
  let metricsPort: number;

  before(async function () {
    this.timeout(60_000);
    if (!(await haveOpenSsh())) this.skip();
    dataDir = await makeDataDir();
    metricsPort = await freePort();
    node = await startServerProcess(dataDir, [
      '--workers',
      '2',
      '--metrics-listen',
      `127.0.0.1:${metricsPort}`,
    ]);
  });

  after(async function () {
    if (node && node.child.exitCode === null && node.child.signalCode === null) {
      node.child.kill('SIGINT');
    }
    await node?.exited;
    if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
  });

  it('counts in one scrape the logins that both workers served', async function () {
    this.timeout(60_000);
    // Four logins in turn: the primary hands connections to the workers round-robin.
    for (let i = 0; i < 4; i += 1) {
      const run = await sftpBatch((node as ServerProcess).port, CREDS, ['pwd']);
      expect(run.code, run.stderr).to.equal(0);
    }
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(res.status).to.equal(200);
    const body = await res.text();
    expect(counter(body, 'miniftp_logins_total', 'result="ok"')).to.equal(4);
  });
});
