/**
 * Login history, address lists and per-user bandwidth limits through the console and real
 * clients: a failed and an ok login with their client software; an address outside the global
 * allow list refused before authentication (the client binds 127.0.0.2); a user's own deny rule
 * refusing the login with the reason in the log; an upload held back by the user's limit (the
 * throttled-time metric grows) arriving intact.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { sftpBatch, sshExec } from '../helpers/openssh';
import { logLines, waitForLog } from '../helpers/probe';
import { startTestServer, type TestServer } from '../helpers/server';
import { connectClient, endClient } from '../helpers/ssh-client';

const ZS = { user: 'zhangsan', password: '123' };
const ADMIN = { user: 'admin', password: 'password' };

describe('ops: history, address lists, bandwidth', function () {
  this.timeout(60000);
  let server: TestServer;
  let work: string;

  before(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-access-'));
    server = await startTestServer({ flags: ['--metrics-listen', '127.0.0.1:0'] });
  });

  after(async () => {
    await server.stop();
    await fsp.rm(work, { recursive: true, force: true });
  });

  async function admin(argv: string[]): Promise<string> {
    const run = await sshExec(server.port, ADMIN, argv);
    expect(run.code, `${argv.join(' ')}: ${run.stderr}`).to.equal(0);
    return run.stdout;
  }

  it('keeps a failed and an ok login with the client software; history and user show list them', async () => {
    await connectClient(server.port, { ...ZS, password: 'wrong', ident: 'BadClient_1.0' }).then(
      () => expect.fail('the wrong password was accepted'),
      (err: Error) => expect(err.message).to.match(/authentication/i),
    );
    await endClient(await connectClient(server.port, { ...ZS, ident: 'GoodClient_2.5' }));
    const rows = JSON.parse(
      await admin(['history', 'zhangsan', '--since', '1h', '--json']),
    ) as Array<Record<string, unknown>>;
    expect(rows.map((r) => [r.result, r.client, r.method, r.address])).to.deep.equal([
      ['ok', 'SSH-2.0-GoodClient_2.5', 'password', '127.0.0.1'],
      ['failed', 'SSH-2.0-BadClient_1.0', 'password', '127.0.0.1'],
    ]);
    const failed = JSON.parse(await admin(['history', '--failed', '--json'])) as unknown[];
    expect(failed).to.have.length(1);
    const shown = await admin(['user', 'show', 'zhangsan']);
    expect(shown).to.contain('last logins:').and.to.contain('GoodClient_2.5');
    expect(shown).to.contain('BadClient_1.0').and.to.contain('wrong password');
  });

  it('refuses an address outside the global allow list before authentication', async () => {
    expect(await admin(['net', 'allow', '127.0.0.1'])).to.contain('127.0.0.1/32 added');
    try {
      const err = await connectClient(server.port, { ...ZS, localAddress: '127.0.0.2' }).then(
        async (c) => {
          await endClient(c);
          return undefined;
        },
        (e: Error) => e,
      );
      expect(err, 'the connection from 127.0.0.2 was let in').to.be.instanceOf(Error);
      const refused = await waitForLog(server.dataDir, 'connection.refused', { ip: '127.0.0.2' });
      expect(refused.reason).to.equal('address not in the allow list');
      // Refused at the accept: no login attempt was ever made from there.
      const lines = await logLines(server.dataDir);
      const logins = lines.filter(
        (l) => String(l.event).startsWith('login.') && l.ip === '127.0.0.2',
      );
      expect(logins).to.deep.equal([]);
      // 127.0.0.1 is allowed.
      await endClient(await connectClient(server.port, ZS));
    } finally {
      await admin(['net', 'del', 'allow', '127.0.0.1']);
    }
    const rules = JSON.parse(await admin(['net', 'list', '--json'])) as unknown[];
    expect(rules).to.deep.equal([]);
  });

  it("refuses a login from an address in the user's own deny list, with the reason logged", async () => {
    await admin(['net', 'deny', '--user', 'zhangsan', '127.0.0.3/32']);
    try {
      const err = await connectClient(server.port, { ...ZS, localAddress: '127.0.0.3' }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err).to.be.instanceOf(Error);
      const line = await waitForLog(server.dataDir, 'login.refused', { ip: '127.0.0.3' });
      expect(line.reason).to.equal('address in the deny list of this user');
      // From elsewhere the same user logs in.
      await endClient(await connectClient(server.port, { ...ZS, localAddress: '127.0.0.4' }));
    } finally {
      await admin(['net', 'del', 'deny', '--user', 'zhangsan', '127.0.0.3']);
    }
  });

  it('holds an upload back to the user limit and the file arrives intact', async () => {
    const out = await admin(['user', 'set', 'zhangsan', '--up', '2M', '--max-sessions', '3']);
    expect(out).to.contain('upload limit 2 MiB/s').and.to.contain('max sessions 3');
    const shown = await admin(['user', 'show', 'zhangsan', '--json']);
    expect(JSON.parse(shown)).to.include({ upBps: 2 * 1024 * 1024, maxSessions: 3 });
    const data = randomBytes(1024 * 1024 + 5);
    await fsp.writeFile(path.join(work, 'slow.bin'), data);
    const run = await sftpBatch(server.port, ZS, ['put slow.bin /slow.bin'], { cwd: work });
    expect(run.code, run.stderr).to.equal(0);
    const stored = await fsp.readFile(path.join(server.home('zhangsan'), 'slow.bin'));
    expect(stored.equals(data)).to.equal(true);
    const at = server.metrics as { host: string; port: number };
    const text = await (await fetch(`http://${at.host}:${at.port}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith('miniftp_throttled_seconds_total{direction="in"} '));
    // 1 MiB at 2 MiB/s with a 0.1 s burst: the limiter held the upload back.
    expect(Number(line?.split(' ')[1])).to.be.greaterThan(0);
    await admin(['user', 'set', 'zhangsan', '--up', '0', '--max-sessions', '0']);
  });
});
