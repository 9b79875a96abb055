/**
 * Three nodes (three server processes, each with its own data directory) on
 * one PostgreSQL database and one homes directory: what one uploads another
 * lists, one console sees and ends the sessions of every node, a ban counts
 * the failures of every node, and a node that dies leaves `nodes` and
 * `sessions` once its heartbeat has lapsed.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import type { Client } from 'ssh2';
import { haveOpenSsh, sftpBatch } from '../helpers/openssh';
import { postgresDatabase } from '../helpers/postgres';
import { probe, waitUntil } from '../helpers/probe';
import { makeDataDir } from '../helpers/server';
import {
  startServerProcess,
  type ServerProcess,
  stopServerProcesses,
} from '../helpers/server-process';
import { connectClient, closedOf } from '../helpers/ssh-client';
import {
  ADMIN,
  adminRun,
  execOn,
  loginError,
  nodesOf,
  sessionsOf,
  type SessionRow,
} from '../helpers/cluster';

const ZS = { user: 'zhangsan', password: '123' };
const NAMES = ['node-a', 'node-b', 'node-c'] as const;

describe('cluster: three nodes on one PostgreSQL and one homes directory', function () {
  this.timeout(90000);
  let homes: string;
  let work: string;
  const dataDirs: string[] = [];
  const nodes: ServerProcess[] = [];
  const clients: Client[] = [];
  let a: ServerProcess;
  let b: ServerProcess;
  let c: ServerProcess;

  before(async function () {
    if (!(await haveOpenSsh())) this.skip();
    const url = await postgresDatabase();
    homes = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-homes-'));
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-work-'));
    // One after the other: the first creates the schema and the first accounts.
    for (const name of NAMES) {
      const dir = await makeDataDir();
      dataDirs.push(dir);
      nodes.push(
        await startServerProcess(dir, [
          '--store-url',
          url,
          '--homes-dir',
          homes,
          '--node-name',
          name,
          '--heartbeat-interval',
          '1',
          '--node-timeout',
          '3',
          '--ban-threshold',
          '4',
        ]),
      );
    }
    [a, b, c] = nodes as [ServerProcess, ServerProcess, ServerProcess];
  });

  after(async function () {
    for (const cl of clients) cl.end();
    await stopServerProcesses(nodes, 'SIGTERM');
    for (const dir of [...dataDirs, homes, work]) {
      if (dir) await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('lists the three nodes, with their version and a recent heartbeat', async function () {
    await waitUntil('three nodes', async () => (await nodesOf(a.port)).length === 3);
    const listed = await nodesOf(a.port);
    expect(listed.map((n) => n.name)).to.deep.equal([...NAMES]);
    expect(listed.map((n) => n.pid)).to.deep.equal(nodes.map((n) => n.pid));
    expect(listed.find((n) => n.current)?.name).to.equal('node-a');
    for (const n of listed) expect(n.version).to.match(/^\d+\.\d+\.\d+/);
    expect(await adminRun(a.port, ['nodes'])).to.match(/^NODE\s+PID\s+WORKERS\s+VERSION/m);
  });

  it('serves through node C a file uploaded through node A', async function () {
    const file = path.join(work, 'shared.txt');
    await fsp.writeFile(file, 'uploaded through node A\n');
    const put = await sftpBatch(a.port, ZS, [`put ${file} /shared.txt`]);
    expect(put.code, put.stderr).to.equal(0);
    const ls = await sftpBatch(c.port, ZS, ['ls -l /shared.txt', `get /shared.txt ${file}.back`]);
    expect(ls.code, ls.stderr).to.equal(0);
    expect(ls.stdout).to.match(/shared\.txt/);
    expect(await fsp.readFile(`${file}.back`, 'utf8')).to.equal('uploaded through node A\n');
  });

  it('shows the sessions of every node in sessions on node A, with the node', async function () {
    for (const n of [a, b, c]) clients.push(await connectClient(n.port, ZS));
    let rows: SessionRow[] = [];
    await waitUntil('a session of zhangsan on each node', async () => {
      rows = (await sessionsOf(a.port)).filter((r) => r.user === 'zhangsan');
      return new Set(rows.map((r) => r.node)).size === 3;
    });
    expect(rows.map((r) => r.node).sort()).to.deep.equal([...NAMES]);
    for (const r of rows) {
      const serving = nodes[NAMES.indexOf(r.node as (typeof NAMES)[number])];
      expect(r.pid).to.equal(serving?.pid);
    }
    expect(await adminRun(a.port, ['sessions'])).to.match(/^ID\s+NODE\s+USER\s+FROM/m);
  });

  it('kicks from node A a session on node C: its client is disconnected', async function () {
    const onC = (await sessionsOf(a.port)).find(
      (r) => r.user === 'zhangsan' && r.node === 'node-c',
    ) as SessionRow;
    const client = clients[2] as Client;
    const closed = closedOf(client);
    const out = await adminRun(a.port, ['kick', onC.id]);
    expect(out).to.match(/ended/);
    expect(out).to.include('node-c');
    await closed;
    expect((await sessionsOf(a.port)).map((r) => r.id)).to.not.include(onC.id);
  });

  it("user disable on node A ends the user's sessions on node B", async function () {
    const onB = clients[1] as Client;
    const closed = closedOf(onB);
    const console = await connectClient(a.port, ADMIN);
    try {
      const out = JSON.parse(await execOn(console, 'user disable zhangsan --json')) as {
        sessionsEnded: number;
      };
      // One on A (this process), one on B.
      expect(out.sessionsEnded).to.equal(2);
      await closed;
      expect(await loginError(b.port, ZS.user, ZS.password)).to.be.instanceOf(Error);
      await execOn(console, 'user enable zhangsan');
    } finally {
      console.end();
    }
    clients.length = 0;
    expect(await loginError(b.port, ZS.user, ZS.password)).to.equal(undefined);
  });

  it('bans on both nodes an address whose failed logins were spread over them', async function () {
    const from = '127.0.5.1';
    for (const n of [a, b, a, b]) {
      expect(await loginError(n.port, 'zhangsan', 'guess', from)).to.be.instanceOf(Error);
    }
    // Neither node saw four failures itself.
    for (const n of [a, b]) {
      await waitUntil(`banned on ${n.port}`, async () => {
        const p = await probe(n.port, { localAddress: from });
        p.socket.destroy();
        return p.result === 'dropped';
      });
    }
    // Another address is still welcome.
    expect(await loginError(a.port, ZS.user, ZS.password)).to.equal(undefined);
  });

  it('drops a killed node from nodes and its sessions from sessions once its heartbeat lapses', async function () {
    clients.push(await connectClient(c.port, ZS));
    await waitUntil('the session on node C listed', async () =>
      (await sessionsOf(a.port)).some((r) => r.node === 'node-c'),
    );
    c.child.kill('SIGKILL');
    await c.exited;
    await waitUntil(
      'node C gone from nodes',
      async () => !(await nodesOf(a.port)).some((n) => n.name === 'node-c'),
    );
    expect((await nodesOf(a.port)).map((n) => n.name)).to.deep.equal(['node-a', 'node-b']);
    expect((await sessionsOf(a.port)).some((r) => r.node === 'node-c')).to.equal(false);
  });
});
