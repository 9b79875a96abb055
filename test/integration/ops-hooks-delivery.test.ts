/**
 * Hook delivery is at least once: a receiver that fails twice gets the event on the third try
 * (with a small retry delay); an event that used up its attempts is kept as failed and sent
 * again with the console's `hooks retry`; and a server killed with SIGKILL while the receiver
 * holds the first delivery unanswered delivers the event after its restart, once.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { openStore } from '../../src/store/open';
import { HookReceiver } from '../helpers/hook-receiver';
import { sftpBatch, sshExec } from '../helpers/openssh';
import { waitUntil } from '../helpers/probe';
import { makeDataDir, startTestServer, type TestServer } from '../helpers/server';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';

const ZS = { user: 'zhangsan', password: '123' };
const ADMIN = { user: 'admin', password: 'password' };

describe('ops: hook delivery', function () {
  this.timeout(60000);
  let work: string;
  let receiver: HookReceiver;

  beforeEach(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-hooks-'));
    await fsp.writeFile(path.join(work, 'a.txt'), 'hello hooks\n');
    receiver = new HookReceiver();
  });

  afterEach(async () => {
    await receiver.close();
    await fsp.rm(work, { recursive: true, force: true });
  });

  async function upload(port: number): Promise<void> {
    const run = await sftpBatch(port, ZS, ['put a.txt /a.txt'], { cwd: work });
    expect(run.code, run.stderr).to.equal(0);
  }

  it('retries with backoff: a receiver that fails twice gets the event on the third try', async () => {
    receiver.setAnswer((n) => (n < 2 ? 500 : 200));
    const url = await receiver.listen();
    const server: TestServer = await startTestServer({
      flags: ['--hook-url', url, '--hook-retry-delay', '20'],
    });
    try {
      await upload(server.port);
      await receiver.waitFor(3);
      const ids = receiver.received.map((r) => r.json.id);
      expect(new Set(ids).size).to.equal(1);
      expect(receiver.received.map((r) => r.headers['x-miniftp-delivery'])).to.deep.equal(
        ids.map(String),
      );
      const id = Number(ids[0]);
      await waitUntil('the event marked delivered', async () => {
        return (await server.ops.store.hooks.get(id))?.state === 'delivered';
      });
      const row = await server.ops.store.hooks.get(id);
      expect(row).to.include({ attempts: 3, event: 'upload.completed', lastError: null });
    } finally {
      await server.stop();
    }
  });

  it('keeps an event that used up its attempts as failed; hooks retry sends it again', async () => {
    receiver.setAnswer((n) => (n === 0 ? 503 : 200));
    const url = await receiver.listen();
    const server = await startTestServer({
      flags: ['--hook-url', url, '--hook-max-attempts', '1'],
    });
    try {
      await upload(server.port);
      await receiver.waitFor(1);
      let listed: Array<Record<string, unknown>> = [];
      await waitUntil('the event listed as failed', async () => {
        const run = await sshExec(server.port, ADMIN, ['hooks', 'list', '--failed', '--json']);
        listed = JSON.parse(run.stdout) as Array<Record<string, unknown>>;
        return listed.length === 1;
      });
      expect(listed[0]).to.include({ event: 'upload.completed', state: 'failed', attempts: 1 });
      expect(String(listed[0]?.lastError)).to.contain('HTTP 503');
      const retry = await sshExec(server.port, ADMIN, ['hooks', 'retry', String(listed[0]?.id)]);
      expect(retry.code, retry.stderr).to.equal(0);
      await receiver.waitFor(2);
      expect(receiver.received[1]?.json.id).to.equal(listed[0]?.id);
    } finally {
      await server.stop();
    }
  });

  it('delivers after a SIGKILL between the CLOSE and the delivery, once', async () => {
    // The first delivery is held unanswered until the server is killed.
    receiver.setAnswer((n) => (n === 0 ? 'hold' : 200));
    const url = await receiver.listen();
    const dataDir = await makeDataDir();
    const flags = ['--hook-url', url, '--hook-retry-delay', '20'];
    const started: ServerProcess[] = [];
    try {
      const first = await startServerProcess(dataDir, flags);
      started.push(first);
      await upload(first.port);
      await receiver.waitFor(1);
      process.kill(first.pid, 'SIGKILL');
      await first.exited;
      receiver.dropHeld();

      const second = await startServerProcess(dataDir, flags);
      started.push(second);
      await receiver.waitFor(2);
      const [held, again] = receiver.received;
      expect(again?.json.id).to.equal(held?.json.id);
      expect(again?.json).to.deep.equal(held?.json);
      // Stopped in good order (the attempt in progress is recorded first); nothing is
      // delivered a third time.
      second.child.kill('SIGTERM');
      await second.exited;
      const store = await openStore({ file: path.join(dataDir, 'miniftp.db') });
      try {
        const row = await store.ops.hooks.get(Number(held?.json.id));
        expect(row).to.include({ state: 'delivered', attempts: 1 });
      } finally {
        await store.close();
      }
      expect(receiver.received).to.have.length(2);
    } finally {
      // A failed check must not leave a server running.
      for (const p of started) {
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
        await p.exited;
      }
      await fsp.rm(dataDir, { recursive: true, force: true });
    }
  });
});
