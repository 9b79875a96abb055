/**
 * Every configurable limit holds, and normal traffic goes on beside it:
 * connections overall and per IP, unauthenticated connections, login grace
 * time, idle timeout, authentication attempts, sessions per user, open
 * handles, packet size and pending requests.
 */
import { expect } from 'chai';
import type { Client, SFTPWrapper } from 'ssh2';
import { PacketWriter } from '../../src/sftp/codec';
import { OpenFlag, PacketType, Status } from '../../src/sftp/constants';
import { closeProbe, logLines, probe, waitForLog, waitUntil, type Probe } from '../helpers/probe';
import { RawSftp, handleOf, statusOf } from '../helpers/raw-sftp';
import { startTestServer, type TestServer } from '../helpers/server';
import { call, connectClient, endClient, openSftp, closedOf } from '../helpers/ssh-client';
import { sftpBatch } from '../helpers/openssh';

const ZHANGSAN = { user: 'zhangsan', password: '123' };

function realpath(sftp: SFTPWrapper, p = '.'): Promise<string> {
  return call<string>((cb) => sftp.realpath(p, cb));
}

/** A logged-in client with an SFTP session; `works()` proves it still serves. */
async function loggedIn(
  port: number,
  localAddress?: string,
): Promise<{ client: Client; sftp: SFTPWrapper; works(): Promise<void>; end(): Promise<void> }> {
  const client = await connectClient(port, { ...ZHANGSAN, localAddress });
  const sftp = await openSftp(client);
  return {
    client,
    sftp,
    works: async () => {
      expect(await realpath(sftp)).to.equal('/');
    },
    end: () => endClient(client),
  };
}

describe('hardening: limits', function () {
  describe('--max-connections 3 --max-connections-per-ip 2', function () {
    let server: TestServer;
    before(async function () {
      server = await startTestServer({
        flags: ['--max-connections', '3', '--max-connections-per-ip', '2'],
      });
    });
    after(async function () {
      await server?.stop();
    });

    it('drops a third connection from one address; the first two keep working', async function () {
      const a = await loggedIn(server.port);
      const b = await loggedIn(server.port);
      try {
        const third = await probe(server.port);
        expect(third.result).to.equal('dropped');
        await waitForLog(server.dataDir, 'connection.refused', {
          reason: 'too many connections from this address',
        });
        await a.works();
        await b.works();
        // Another address still gets in, up to the overall limit of 3.
        const other = await loggedIn(server.port, '127.0.0.2');
        try {
          await other.works();
          const fourth = await probe(server.port, { localAddress: '127.0.0.3' });
          expect(fourth.result).to.equal('dropped');
          await waitForLog(server.dataDir, 'connection.refused', {
            reason: 'too many connections',
          });
        } finally {
          await other.end();
        }
      } finally {
        await a.end();
        await b.end();
      }
      // Once they are gone, the address is welcome again.
      await waitUntil('the server to count the closed connections', async () => {
        const p = await probe(server.port);
        await closeProbe(p);
        return p.result === 'accepted';
      });
    });

    it('counts connections that never send a byte', async function () {
      const silent = [await probe(server.port), await probe(server.port)];
      try {
        expect(silent.map((p) => p.result)).to.deep.equal(['accepted', 'accepted']);
        expect((await probe(server.port)).result).to.equal('dropped');
      } finally {
        for (const p of silent) await closeProbe(p);
      }
    });
  });

  describe('--max-unauthenticated 2', function () {
    let server: TestServer;
    before(async function () {
      server = await startTestServer({ flags: ['--max-unauthenticated', '2'] });
    });
    after(async function () {
      await server?.stop();
    });

    it('drops new connections while 2 have not logged in; logged-in ones do not count', async function () {
      const user = await loggedIn(server.port);
      const silent: Probe[] = [];
      try {
        silent.push(await probe(server.port), await probe(server.port));
        expect(silent.map((p) => p.result)).to.deep.equal(['accepted', 'accepted']);
        const third = await probe(server.port);
        expect(third.result).to.equal('dropped');
        await waitForLog(server.dataDir, 'connection.refused', {
          reason: 'too many unauthenticated connections',
        });
        await user.works();
        await closeProbe(silent.pop() as Probe);
        // The freed slot takes a new login.
        await waitUntil('a login once a slot is free', async () => {
          try {
            const c = await connectClient(server.port, ZHANGSAN);
            await endClient(c);
            return true;
          } catch {
            return false;
          }
        });
      } finally {
        for (const p of silent) await closeProbe(p);
        await user.end();
      }
    });
  });

  describe('--login-grace-time 1', function () {
    let server: TestServer;
    before(async function () {
      server = await startTestServer({ flags: ['--login-grace-time', '1'] });
    });
    after(async function () {
      await server?.stop();
    });

    it('disconnects clients that do not log in in time, silent or mid-handshake; logged-in ones stay', async function () {
      const user = await loggedIn(server.port);
      try {
        const silent = await probe(server.port);
        const stalled = await probe(server.port, { send: 'SSH-2.0-Stalled_1.0\r\n' });
        expect([silent.result, stalled.result]).to.deep.equal(['accepted', 'accepted']);
        // The server closes both; the test only waits for it.
        await Promise.all([silent.closed, stalled.closed]);
        await waitForLog(server.dataDir, 'login.timeout');
        // Logged in before them, so past its own grace time too, and still served.
        await user.works();
      } finally {
        await user.end();
      }
    });
  });

  describe('--idle-timeout 1', function () {
    let server: TestServer;
    before(async function () {
      server = await startTestServer({ flags: ['--idle-timeout', '1'] });
    });
    after(async function () {
      await server?.stop();
    });

    it('closes a connection that does nothing, even with keepalives; a busy one stays', async function () {
      const idle = await connectClient(server.port, ZHANGSAN);
      const idleClosed = closedOf(idle);
      // ssh2's keepalives every 100 ms are traffic, not use: they must not keep it open.
      const pinging = new (await import('ssh2')).Client();
      const pingingClosed = closedOf(pinging);
      await new Promise<void>((resolve, reject) => {
        pinging.once('ready', () => resolve()).once('error', reject);
        pinging.connect({
          host: '127.0.0.1',
          port: server.port,
          username: ZHANGSAN.user,
          password: ZHANGSAN.password,
          keepaliveInterval: 100,
        });
      });
      pinging.on('error', () => undefined);
      const busy = await loggedIn(server.port);
      let stop = false;
      let requests = 0;
      const working = (async () => {
        while (!stop) {
          await busy.works();
          requests++;
        }
      })();
      try {
        await Promise.all([idleClosed, pingingClosed]);
      } finally {
        stop = true;
        await working;
      }
      expect(requests).to.be.greaterThan(0);
      await busy.works();
      await busy.end();
      const line = await waitForLog(server.dataDir, 'connection.idle_timeout');
      expect(line.user).to.equal('zhangsan');
    });
  });

  describe('--max-auth-tries 2', function () {
    let server: TestServer;
    before(async function () {
      server = await startTestServer({ flags: ['--max-auth-tries', '2'] });
    });
    after(async function () {
      await server?.stop();
    });

    it('ends the connection after 2 failed attempts; a new connection may log in', async function () {
      const { Client: SshClient } = await import('ssh2');
      const client = new SshClient();
      const attempts: string[] = [];
      const closed = closedOf(client);
      let ready = false;
      client.on('ready', () => (ready = true));
      client.on('error', () => undefined);
      client.connect({
        host: '127.0.0.1',
        port: server.port,
        username: 'zhangsan',
        // Offers wrong passwords, then the right one: the server must not let it get that far.
        authHandler: (_left, _partial, next) => {
          const password = ['wrong-1', 'wrong-2', '123'][Math.min(attempts.length, 2)] as string;
          attempts.push(password);
          next({ type: 'password', username: 'zhangsan', password });
        },
      });
      await closed;
      // The client may send its third try before the disconnect reaches it; it must not count.
      expect(attempts.slice(0, 2)).to.deep.equal(['wrong-1', 'wrong-2']);
      expect(ready, 'logged in after the last allowed attempt').to.equal(false);
      const failed = (await logLines(server.dataDir)).filter((l) => l.event === 'login.failed');
      expect(failed).to.have.length(2);
      const ok = await loggedIn(server.port);
      await ok.works();
      await ok.end();
      // Only that last connection logged in: the third try queued behind the limit did not.
      const logins = (await logLines(server.dataDir)).filter((l) => l.event === 'login.ok');
      expect(logins).to.have.length(1);
    });
  });

  describe('--max-sessions-per-user 1', function () {
    let server: TestServer;
    before(async function () {
      server = await startTestServer({ flags: ['--max-sessions-per-user', '1'] });
    });
    after(async function () {
      await server?.stop();
    });

    it('turns away a second login with the reason; the first works; after it, a new one is let in', async function () {
      const first = await loggedIn(server.port);
      try {
        const second = await sftpBatch(server.port, ZHANGSAN, ['pwd']);
        expect(second.code).to.not.equal(0);
        expect(second.stderr).to.include('too many sessions for this user (limit 1)');
        await first.works();
        // Another user is not affected.
        const admin = await connectClient(server.port, { user: 'admin', password: 'password' });
        await endClient(admin);
      } finally {
        await first.end();
      }
      await waitUntil('the first session to be counted out', async () => {
        const run = await sftpBatch(server.port, ZHANGSAN, ['pwd']);
        return run.code === 0;
      });
    });
  });

  describe('--max-handles-per-session 4 --max-channels-per-connection 2 --max-packet 34000 --max-pending-requests 4', function () {
    let server: TestServer;
    before(async function () {
      server = await startTestServer({
        flags: [
          '--max-handles-per-session',
          '4',
          '--max-channels-per-connection',
          '2',
          '--max-packet',
          '34000',
          '--max-pending-requests',
          '4',
        ],
      });
    });
    after(async function () {
      await server?.stop();
    });

    it('refuses the 5th open handle with a clear message; closing one lets the next open', async function () {
      const c = await loggedIn(server.port);
      try {
        const handles: Buffer[] = [];
        for (let i = 0; i < 4; i++) {
          handles.push(await call<Buffer>((cb) => c.sftp.open(`/h${i}`, 'w', cb)));
        }
        const err = await call<Buffer>((cb) => c.sftp.open('/h4', 'w', cb)).then(
          () => undefined,
          (e: unknown) => e as Error & { code?: number },
        );
        expect(err?.code).to.equal(Status.FAILURE);
        expect(err?.message).to.equal('too many open handles (limit 4)');
        await call((cb) => c.sftp.close(handles.pop() as Buffer, cb));
        handles.push(await call<Buffer>((cb) => c.sftp.open('/h4', 'w', cb)));
        // The limit is per session: a second SFTP channel has its own 4.
        const other = await openSftp(c.client);
        const h = await call<Buffer>((cb) => other.open('/h0', 'r', cb));
        await call((cb) => other.close(h, cb));
        other.end();
        for (const h of handles) await call((cb) => c.sftp.close(h, cb));
      } finally {
        await c.end();
      }
    });

    it('refuses a third channel on one connection; closing one makes room', async function () {
      const c = await loggedIn(server.port);
      try {
        const second = await openSftp(c.client);
        const refused = await openSftp(c.client).then(
          () => undefined,
          (err: unknown) => err as Error,
        );
        expect(refused?.message).to.match(/Channel open failure/);
        await waitForLog(server.dataDir, 'channel.refused', { reason: 'too many channels' });
        await c.works();
        await new Promise<void>((resolve) => {
          second.once('close', () => resolve());
          second.end();
        });
        await waitUntil('a free channel slot', async () => {
          const third = await openSftp(c.client).catch(() => undefined);
          third?.end();
          return third !== undefined;
        });
      } finally {
        await c.end();
      }
    });

    it('closes the channel on a packet over --max-packet; the connection serves a new one', async function () {
      const client = await connectClient(server.port, ZHANGSAN);
      try {
        const raw = await RawSftp.open(client);
        const limits = await raw.extended('limits@openssh.com');
        expect(limits.reader.u64()).to.equal(34000);
        const handle = handleOf(
          await raw.request(PacketType.OPEN, (w) =>
            w
              .string('/big')
              .u32(OpenFlag.WRITE | OpenFlag.CREAT)
              .attrs({}),
          ),
        );
        // 33000 bytes of data fit; 34000 do not once the header is added.
        await raw.write(handle, 0, Buffer.alloc(33000, 1));
        raw.sendRaw(
          new PacketWriter(PacketType.WRITE)
            .u32(999)
            .string(handle)
            .u64(0)
            .bytes(Buffer.alloc(34000, 2))
            .finish(),
        );
        await raw.closed;
        expect(raw.inFlight).to.equal(0);
        const fresh = await RawSftp.open(client);
        const st = statusOf(await fresh.request(PacketType.REMOVE, (w) => w.string('/big')));
        expect(st.code).to.equal(Status.OK);
        await fresh.end();
      } finally {
        await endClient(client);
      }
    });

    it('with 4 pending requests at most, 200 pipelined requests are all answered once', async function () {
      const client = await connectClient(server.port, ZHANGSAN);
      try {
        const raw = await RawSftp.open(client);
        const replies = await Promise.all(
          Array.from({ length: 200 }, () => raw.request(PacketType.STAT, (w) => w.string('/'))),
        );
        expect(replies.every((r) => r.type === PacketType.ATTRS)).to.equal(true);
        expect(raw.strayReplies).to.have.length(0);
        await raw.end();
      } finally {
        await endClient(client);
      }
    });
  });
});
