/**
 * One node of several worker processes on SQLite (`--workers 2`): logins are
 * spread over the workers, one console sees and ends the sessions of all of
 * them, a ban counts the failures of all of them, and a worker that dies is
 * replaced.
 */
import { promises as fsp } from 'node:fs';
import { expect } from 'chai';
import type { Client } from 'ssh2';
import { haveOpenSsh } from '../helpers/openssh';
import { probe, waitForLog, waitUntil, logLines } from '../helpers/probe';
import { makeDataDir } from '../helpers/server';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';
import { connectClient, closedOf } from '../helpers/ssh-client';
import {
  ADMIN,
  adminRun,
  execOn,
  childrenOf,
  loginError,
  nodesOf,
  sessionsOf,
  type SessionRow,
} from '../helpers/cluster';

const ZS = { user: 'zhangsan', password: '123' };

describe('cluster: --workers 2 on SQLite', function () {
  this.timeout(60000);
  let dataDir: string;
  let server: ServerProcess;
  const clients: Client[] = [];

  before(async function () {
    if (!(await haveOpenSsh())) this.skip();
    dataDir = await makeDataDir();
    server = await startServerProcess(dataDir, [
      '--workers',
      '2',
      '--heartbeat-interval',
      '1',
      '--node-name',
      'alpha',
      '--ban-threshold',
      '4',
    ]);
  });

  after(async function () {
    for (const c of clients) c.end();
    if (server) {
      server.child.kill('SIGTERM');
      const end = await server.exited;
      expect(end.code, end.stderr).to.equal(0);
    }
    if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
  });

  it('starts two workers under one primary and lists one node', async function () {
    await waitUntil('two workers', () => childrenOf(server.pid).length === 2);
    const nodes = await nodesOf(server.port);
    expect(nodes.map((n) => [n.name, n.workers, n.pid])).to.deep.equal([['alpha', 2, server.pid]]);
  });

  it('spreads logins over both workers, and sessions shows all of them', async function () {
    for (let i = 0; i < 4; i++) clients.push(await connectClient(server.port, ZS));
    let rows: SessionRow[] = [];
    await waitUntil('four sessions of zhangsan listed', async () => {
      rows = (await sessionsOf(server.port)).filter((r) => r.user === 'zhangsan');
      return rows.length === 4;
    });
    const workers = new Set(rows.map((r) => r.worker));
    const pids = new Set(rows.map((r) => r.pid));
    expect([...workers].sort()).to.deep.equal([1, 2]);
    expect(pids.size).to.equal(2);
    for (const pid of pids) expect(childrenOf(server.pid)).to.include(pid);
    expect(rows.every((r) => r.node === 'alpha')).to.equal(true);
    expect(await adminRun(server.port, ['sessions'])).to.match(/^ID\s+NODE\s+USER\s+FROM/m);
  });

  it('kicks from a console on one worker a session served by the other', async function () {
    const console = await connectClient(server.port, ADMIN);
    try {
      const rows = JSON.parse(await execOn(console, 'sessions --json')) as SessionRow[];
      const mine = rows.find((r) => r.current) as SessionRow;
      expect(mine.worker).to.be.oneOf([1, 2]);
      const target = rows.find((r) => r.user === 'zhangsan' && r.pid !== mine.pid) as SessionRow;
      expect(target, JSON.stringify(rows)).to.not.equal(undefined);
      const ids = rows.filter((r) => r.user === 'zhangsan').map((r) => r.id);
      const client = clients[ids.indexOf(target.id)] as Client;
      const closed = closedOf(client);
      expect(await execOn(console, `kick ${target.id}`)).to.match(/ended/);
      await closed;
      clients.splice(clients.indexOf(client), 1);
      const after = JSON.parse(await execOn(console, 'sessions --json')) as SessionRow[];
      expect(after.map((r) => r.id)).to.not.include(target.id);
    } finally {
      console.end();
    }
  });

  it('user disable ends the sessions on both workers', async function () {
    const closed = clients.map(closedOf);
    const out = await adminRun(server.port, ['user', 'disable', 'zhangsan', '--json']);
    expect(JSON.parse(out)).to.deep.include({ sessionsEnded: 3 });
    await Promise.all(closed);
    clients.length = 0;
    expect(await loginError(server.port, ZS.user, ZS.password)).to.be.instanceOf(Error);
    await adminRun(server.port, ['user', 'enable', 'zhangsan']);
  });

  it('bans an address whose failed logins were spread over both workers, on both', async function () {
    const from = '127.0.4.1';
    for (const guess of ['g1', 'g2', 'g3', 'g4']) {
      expect(await loginError(server.port, 'zhangsan', guess, from)).to.be.instanceOf(Error);
    }
    // Each worker saw two of the four failures; both ban on the fourth.
    await waitUntil('ip.banned on both workers', async () => {
      const lines = (await logLines(dataDir)).filter(
        (l) => l.event === 'ip.banned' && l.ip === from,
      );
      return new Set(lines.map((l) => l.worker)).size === 2;
    });
    const failures = (await logLines(dataDir)).filter(
      (l) => l.event === 'login.failed' && l.ip === from,
    );
    expect(new Set(failures.map((l) => l.worker)).size).to.equal(2);
    for (let i = 0; i < 2; i++) {
      const p = await probe(server.port, { localAddress: from });
      expect(p.result).to.equal('dropped');
    }
    expect(await loginError(server.port, ZS.user, ZS.password)).to.equal(undefined);
  });

  it('replaces a killed worker and forgets its sessions', async function () {
    const held: Client[] = [];
    for (let i = 0; i < 2; i++) held.push(await connectClient(server.port, ZS));
    let rows: SessionRow[] = [];
    await waitUntil('two sessions listed', async () => {
      rows = (await sessionsOf(server.port)).filter((r) => r.user === 'zhangsan');
      return rows.length === 2;
    });
    const victim = rows[0]?.pid as number;
    const before = childrenOf(server.pid);
    expect(before).to.include(victim);
    process.kill(victim, 'SIGKILL');
    await waitUntil('a new worker', () => {
      const now = childrenOf(server.pid);
      return now.length === 2 && !now.includes(victim);
    });
    await waitForLog(dataDir, 'cluster.worker_exited', { signal: 'SIGKILL' });
    await waitForLog(dataDir, 'cluster.worker_started');
    // Its sessions leave the list once a live worker notices the process is gone.
    await waitUntil("the dead worker's sessions gone", async () =>
      (await sessionsOf(server.port)).every((r) => r.pid !== victim),
    );
    for (const c of held) c.end();
    // Both workers serve again.
    for (let i = 0; i < 2; i++) {
      expect(await loginError(server.port, ZS.user, ZS.password)).to.equal(undefined);
    }
  });
});
