/**
 * The client's transfer engine against a real server: pipelined transfers,
 * resume after a dropped connection (and after a server restart), refused
 * resumes, download resume, and check-file through the client's channel.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import type { Client } from 'ssh2';
import { connect, type Connection, type HostKeyInfo } from '../../src/client/connect';
import {
  AuthenticationError,
  ConnectionLostError,
  HostKeyRejectedError,
  NotFoundError,
  QuotaError,
  ResumeMismatchError,
  TransferAbortedError,
} from '../../src/client/errors';
import { OpenFlag } from '../../src/sftp/constants';
import {
  download,
  upload,
  type TransferOptions,
  type TransferProgress,
} from '../../src/client/transfer';
import { writeRandomFile } from '../helpers/files';
import { logLines, waitForLog } from '../helpers/probe';
import { startTestServer, type TestServer } from '../helpers/server';

const MiB = 1024 * 1024;
/** Not a multiple of any block size the engine uses. */
const SIZE = 10 * MiB + 12345;

function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

function digest(algorithm: string, data: Buffer): Buffer {
  return createHash(algorithm).update(data).digest();
}

/** Cuts the TCP connection under ssh2 without any SSH goodbye, as a network failure would. */
function cutSocket(conn: Client): void {
  (conn as unknown as { _sock: Socket })._sock.destroy();
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function expectMonotonic(events: TransferProgress[], total: number): void {
  expect(events.length).to.be.greaterThan(0);
  for (let i = 1; i < events.length; i++) {
    expect(events[i]!.transferred).to.be.at.least(events[i - 1]!.transferred);
  }
  const last = events[events.length - 1]!;
  expect(last.transferred).to.equal(total);
  expect(last.total).to.equal(total);
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.fail('expected the transfer to fail'),
    (err: unknown) => err,
  );
}

describe('client transfer engine', function () {
  let server: TestServer;
  let work: string;
  let source: string;
  let sourceData: Buffer;
  const open: Connection[] = [];

  const login = async (): Promise<Connection> => {
    const c = await connect({
      host: server.host,
      port: server.port,
      username: 'zhangsan',
      password: '123',
    });
    open.push(c);
    return c;
  };

  const remoteFile = (name: string): string => path.join(server.home('zhangsan'), name);

  /**
   * Starts an upload and cuts the connection once ~40% is acknowledged. Few
   * requests in flight, so most of the file is still unsent when it drops.
   */
  const uploadAndDrop = async (name: string, options: TransferOptions = {}): Promise<void> => {
    const c = await login();
    let cut = false;
    const err = await caught(
      upload(c.sftp, source, `/${name}`, {
        ...options,
        concurrency: 4,
        progressIntervalMs: 0,
        onProgress: (p) => {
          if (!cut && p.transferred >= 0.4 * p.total) {
            cut = true;
            cutSocket(c.conn);
          }
        },
      }),
    );
    expect(err).to.be.instanceOf(ConnectionLostError);
    await c.close();
    // The server notices the drop and closes the session's files.
    await waitFor(
      'the server to drop the connection',
      () => server.connections.list().length === 0,
    );
    const partial = (await fsp.stat(remoteFile(name))).size;
    expect(partial).to.be.greaterThan(0).and.lessThan(SIZE);
  };

  /** Uploads `source` and aborts it (the client sends CLOSE) once `when(bytes done)` holds. */
  const uploadAndAbort = (
    c: Connection,
    name: string,
    concurrency: number,
    when: (done: number) => boolean,
  ): Promise<unknown> => {
    const stop = new AbortController();
    return caught(
      upload(c.sftp, source, name, {
        signal: stop.signal,
        concurrency,
        progressIntervalMs: 0,
        onProgress: (p) => {
          if (when(p.transferred)) stop.abort();
        },
      }),
    );
  };

  before(async () => {
    server = await startTestServer();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-engine-'));
    source = path.join(work, 'source.bin');
    await writeRandomFile(source, SIZE);
    sourceData = await fsp.readFile(source);
  });

  afterEach(async () => {
    for (const c of open.splice(0)) await c.close();
  });

  after(async () => {
    await server.stop();
    await fsp.rm(work, { recursive: true, force: true });
  });

  describe('connecting', () => {
    it('shows the host key fingerprint and stops when it is not accepted', async () => {
      let seen: HostKeyInfo | undefined;
      const err = await caught(
        connect({
          host: server.host,
          port: server.port,
          username: 'zhangsan',
          password: '123',
          hostKeyCheck: async (info) => {
            seen = info;
            return false;
          },
        }),
      );
      expect(err).to.be.instanceOf(HostKeyRejectedError);
      expect(seen?.fingerprint).to.match(/^SHA256:[A-Za-z0-9+/]{43}$/);
      expect(seen?.type).to.match(/^(ssh-ed25519|rsa-sha2-512|rsa-sha2-256|ssh-rsa|ecdsa-)/);
    });

    it('reports a wrong password as an authentication error', async () => {
      const err = await caught(
        connect({ host: server.host, port: server.port, username: 'zhangsan', password: 'x' }),
      );
      expect(err).to.be.instanceOf(AuthenticationError);
    });
  });

  describe('file operations', () => {
    it('makes, lists, renames over, and removes', async () => {
      const c = await login();
      const { sftp } = c;
      expect(await sftp.realpath('.')).to.equal('/');
      await sftp.mkdir('/ops');
      for (const name of ['a.txt', 'b.txt']) {
        const h = await sftp.open(`/ops/${name}`, OpenFlag.WRITE | OpenFlag.CREAT);
        await sftp.write(h, 0, Buffer.from(name));
        await sftp.close(h);
      }
      const names = (await sftp.list('/ops')).map((e) => e.filename).sort();
      expect(names).to.deep.equal(['a.txt', 'b.txt']);
      // posix-rename replaces the target, as the UI's "overwrite" expects.
      await sftp.rename('/ops/a.txt', '/ops/b.txt');
      const h = await sftp.open('/ops/b.txt', OpenFlag.READ);
      expect((await sftp.read(h, 0, 100))?.toString()).to.equal('a.txt');
      expect(await sftp.read(h, 5, 100)).to.equal(null);
      expect((await sftp.fstat(h)).size).to.equal(5);
      await sftp.close(h);
      const err = await caught(sftp.stat('/ops/a.txt'));
      expect(err).to.be.instanceOf(NotFoundError);
      await sftp.remove('/ops/b.txt');
      await sftp.rmdir('/ops');
      expect(await caught(sftp.lstat('/ops'))).to.be.instanceOf(NotFoundError);
    });

    it('gives the reason the server ended the session with', async () => {
      const c = await login();
      const mine = server.connections.list().filter((x) => x.user === 'zhangsan');
      for (const conn of mine) conn.kill('kicked by admin');
      await c.sftp.closed;
      const err = await caught(c.sftp.stat('/'));
      expect(err).to.be.instanceOf(ConnectionLostError);
      expect((err as Error).message).to.equal('miniftp: disconnected: kicked by admin');
    });

    it('fails outstanding and later requests once the connection is cut', async () => {
      const c = await login();
      const pending = c.sftp.stat('/');
      cutSocket(c.conn);
      // The request cannot have been answered: the socket is gone before the reply could be read.
      expect(await caught(pending)).to.be.instanceOf(ConnectionLostError);
      await c.sftp.closed;
      expect(await caught(c.sftp.stat('/'))).to.be.instanceOf(ConnectionLostError);
    });
  });

  describe('plain transfers', () => {
    it('uploads and downloads byte-exact, with progress ending at the total', async () => {
      const c = await login();
      const up: TransferProgress[] = [];
      const sent = await upload(c.sftp, source, '/plain.bin', { onProgress: (p) => up.push(p) });
      expect(sent).to.deep.include({
        total: SIZE,
        bytesSent: SIZE,
        resumedFrom: 0,
        verified: true,
      });
      expect(sent.md5).to.equal(md5(sourceData));
      expect(md5(await fsp.readFile(remoteFile('plain.bin')))).to.equal(md5(sourceData));
      expectMonotonic(up, SIZE);

      const down: TransferProgress[] = [];
      const target = path.join(work, 'plain-down.bin');
      const got = await download(c.sftp, '/plain.bin', target, { onProgress: (p) => down.push(p) });
      expect(got).to.deep.include({ total: SIZE, bytesSent: SIZE, resumedFrom: 0, verified: true });
      expect((await fsp.readFile(target)).equals(sourceData)).to.equal(true);
      expectMonotonic(down, SIZE);
    });

    it('sends requests no larger than the server allows and at least 255 KiB', async () => {
      const c = await login();
      const limits = await c.sftp.limits();
      expect(limits.maxWrite).to.be.at.least(255 * 1024);
      expect(limits.maxRead).to.be.at.least(255 * 1024);
    });

    it('transfers an empty file', async () => {
      const c = await login();
      const empty = path.join(work, 'empty.bin');
      await fsp.writeFile(empty, Buffer.alloc(0));
      const events: TransferProgress[] = [];
      const sent = await upload(c.sftp, empty, '/empty.bin', { onProgress: (p) => events.push(p) });
      expect(sent).to.deep.include({ total: 0, bytesSent: 0, verified: true });
      expect(sent.md5).to.equal(md5(Buffer.alloc(0)));
      expect((await fsp.stat(remoteFile('empty.bin'))).size).to.equal(0);
      expectMonotonic(events, 0);

      const back = path.join(work, 'empty-down.bin');
      const got = await download(c.sftp, '/empty.bin', back);
      expect(got).to.deep.include({ total: 0, bytesSent: 0, verified: true });
      expect((await fsp.stat(back)).size).to.equal(0);
    });

    it('transfers a file one byte longer than a block, in small blocks', async () => {
      const c = await login();
      const data = randomBytes(64 * 1024 + 1);
      const local = path.join(work, 'odd.bin');
      await fsp.writeFile(local, data);
      await upload(c.sftp, local, '/odd.bin', { blockSize: 4096 });
      expect((await fsp.readFile(remoteFile('odd.bin'))).equals(data)).to.equal(true);
      const back = path.join(work, 'odd-down.bin');
      await download(c.sftp, '/odd.bin', back, { blockSize: 4096 });
      expect((await fsp.readFile(back)).equals(data)).to.equal(true);
    });

    it('stops at an abort and reports it', async () => {
      const c = await login();
      const err = await uploadAndAbort(c, '/aborted.bin', 2, (done) => done > 0);
      expect(err).to.be.instanceOf(TransferAbortedError);
      // The session stays usable after an abort.
      expect((await c.sftp.stat('/aborted.bin')).size).to.be.lessThan(SIZE);
    });
  });

  describe('upload resume', () => {
    it('continues after a dropped connection and sends only the rest', async () => {
      await uploadAndDrop('dropped.bin');
      // The dropped session's file is logged closed before the session itself.
      const closed = await waitForLog(server.dataDir, 'file.closed', { path: '/dropped.bin' });
      await waitForLog(server.dataDir, 'session.closed', { session: closed.session });
      const events = (await logLines(server.dataDir))
        .filter((l) => l.session === closed.session)
        .map((l) => l.event);
      expect(events.indexOf('file.closed')).to.be.lessThan(events.indexOf('session.closed'));
      const c = await login();
      const r = await upload(c.sftp, source, '/dropped.bin', { resume: 'auto' });
      expect(r.resumedFrom).to.be.greaterThan(0).and.lessThan(SIZE);
      expect(r.bytesSent).to.equal(SIZE - r.resumedFrom);
      expect(r.verified).to.equal(true);
      expect(md5(await fsp.readFile(remoteFile('dropped.bin')))).to.equal(md5(sourceData));
    });

    it('continues after an abort, with the digest the server finished after the CLOSE', async () => {
      const c = await login();
      const err = await uploadAndAbort(c, '/closed-early.bin', 4, (done) => done >= 0.4 * SIZE);
      expect(err).to.be.instanceOf(TransferAbortedError);
      // The abort closed the handle with CLOSE; the resume right after must
      // wait for that upload's digest and take it from the ledger.
      const r = await upload(c.sftp, source, '/closed-early.bin', { resume: 'auto' });
      expect(r.resumedFrom).to.be.greaterThan(MiB);
      expect(r.verified).to.equal(true);
      await waitForLog(server.dataDir, 'resume.accepted', {
        path: '/closed-early.bin',
        from_ledger: true,
      });
      expect(md5(await fsp.readFile(remoteFile('closed-early.bin')))).to.equal(md5(sourceData));
    });

    it('continues after a drop and a server restart', async () => {
      await uploadAndDrop('restarted.bin');
      await server.close();
      server = await startTestServer({ dataDir: server.dataDir });
      const c = await login();
      const r = await upload(c.sftp, source, '/restarted.bin', { resume: 'auto' });
      expect(r.resumedFrom).to.be.greaterThan(0).and.lessThan(SIZE);
      expect(r.bytesSent).to.equal(SIZE - r.resumedFrom);
      expect(md5(await fsp.readFile(remoteFile('restarted.bin')))).to.equal(md5(sourceData));
    });

    const serverLog = async (): Promise<string> => {
      const dir = path.join(server.dataDir, 'log');
      const files = (await fsp.readdir(dir)).filter((f) => f.endsWith('.log'));
      return (await Promise.all(files.map((f) => fsp.readFile(path.join(dir, f), 'utf8')))).join(
        '',
      );
    };

    it('waits for another session still writing the file before it cuts it', async () => {
      const part = sourceData.subarray(0, 3 * MiB);
      const writer = await login();
      const handle = await writer.sftp.open(
        '/busy.bin',
        OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC,
      );
      for (let at = 0; at < part.length; at += 128 * 1024) {
        await writer.sftp.write(handle, at, part.subarray(at, at + 128 * 1024));
      }
      const resumer = await login();
      let settled = false;
      const resumed = resumer.sftp
        .resumeUpload('/busy.bin', part.length, digest('md5', part))
        .finally(() => {
          settled = true;
        });
      // The resume is parked until the writer lets go.
      await waitFor('the resume to wait', async () =>
        (await serverLog()).includes('"resume.waiting"'),
      );
      await writer.sftp.write(handle, part.length, Buffer.alloc(10));
      expect(settled).to.equal(false);
      await writer.sftp.close(handle);
      const h = await resumed;
      await resumer.sftp.close(h);
      expect((await fsp.stat(remoteFile('busy.bin'))).size).to.equal(part.length);
    });

    it('is refused at once when the same session still has the file open for writing', async () => {
      const c = await login();
      const handle = await c.sftp.open(
        '/own.bin',
        OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC,
      );
      await c.sftp.write(handle, 0, Buffer.from('abc'));
      const err = await caught(
        c.sftp.resumeUpload('/own.bin', 3, digest('md5', Buffer.from('abc'))),
      );
      expect(err).to.be.instanceOf(ResumeMismatchError);
      expect((err as Error).message).to.match(/close that handle first/);
      await c.sftp.close(handle);
      const h = await c.sftp.resumeUpload('/own.bin', 3, digest('md5', Buffer.from('abc')));
      await c.sftp.close(h);
    });

    it('is refused when the local file changed, and the server file is left alone', async () => {
      await uploadAndDrop('changed.bin');
      const before = await fsp.readFile(remoteFile('changed.bin'));
      const changed = path.join(work, 'changed.bin');
      const data = Buffer.from(sourceData);
      data[0] = (data[0] as number) ^ 0xff;
      await fsp.writeFile(changed, data);

      const c = await login();
      const err = await caught(upload(c.sftp, changed, '/changed.bin', { resume: 'auto' }));
      expect(err).to.be.instanceOf(ResumeMismatchError);
      const message = (err as ResumeMismatchError).message;
      expect(message).to.match(/^resume refused:/);
      const ours = md5(data.subarray(0, before.length));
      const theirs = md5(before);
      expect(message).to.include(ours).and.include(theirs);

      const after = await fsp.readFile(remoteFile('changed.bin'));
      expect(after.equals(before)).to.equal(true);

      const logDir = path.join(server.dataDir, 'log');
      const logLine = async (): Promise<string | undefined> => {
        for (const f of await fsp.readdir(logDir)) {
          if (!/^\d{4}-\d{2}-\d{2}\.log$/.test(f)) continue;
          const text = await fsp.readFile(path.join(logDir, f), 'utf8');
          const line = text
            .split('\n')
            .find((l) => l.includes('resume') && l.includes(ours) && l.includes(theirs));
          if (line) return line;
        }
        return undefined;
      };
      await waitFor('the refusal in the server log', async () => (await logLine()) !== undefined);
      const line = (await logLine()) as string;
      expect(line).to.include('zhangsan').and.include('/changed.bin');
      expect(line).not.to.include(server.dataDir);
    });
  });

  describe('quota', () => {
    const setQuota = async (bytes: number): Promise<void> => {
      await server.store.users.setQuota('zhangsan', bytes);
      await server.quota.refreshLimits('zhangsan');
    };

    it('stops at the quota with QuotaError, and resumes once it is raised', async () => {
      const original = (await server.store.users.get('zhangsan'))?.quotaBytes ?? 0;
      await setQuota((await server.quota.get('zhangsan')).bytes + 3 * MiB);
      try {
        const c = await login();
        const err = await caught(upload(c.sftp, source, '/quota.bin'));
        expect(err).to.be.instanceOf(QuotaError);
        expect((err as QuotaError).message).to.match(/^quota exceeded/);
        // What fitted stays on the server, ready to be resumed.
        const kept = (await c.sftp.stat('/quota.bin')).size ?? 0;
        expect(kept)
          .to.be.greaterThan(0)
          .and.at.most(3 * MiB);

        await setQuota(original);
        const r = await upload(c.sftp, source, '/quota.bin');
        expect(r.resumedFrom).to.equal(kept);
        expect(r.bytesSent).to.equal(SIZE - kept);
        expect(md5(await fsp.readFile(remoteFile('quota.bin')))).to.equal(md5(sourceData));
      } finally {
        await setQuota(original);
      }
    });
  });

  describe('download resume', () => {
    const half = 4 * MiB + 77;

    before(async () => {
      await fsp.copyFile(source, remoteFile('down.bin'));
    });

    it('continues a partial local file', async () => {
      const c = await login();
      const local = path.join(work, 'down-partial.bin');
      await fsp.writeFile(local, sourceData.subarray(0, half));
      const events: TransferProgress[] = [];
      const r = await download(c.sftp, '/down.bin', local, { onProgress: (p) => events.push(p) });
      expect(r).to.deep.include({ resumedFrom: half, bytesSent: SIZE - half, verified: true });
      expect((await fsp.readFile(local)).equals(sourceData)).to.equal(true);
      expect(events[0]).to.include({ transferred: half, resumedFrom: half });
      expectMonotonic(events, SIZE);
    });

    it('refuses when the local bytes differ, and leaves the local file alone', async () => {
      const c = await login();
      const local = path.join(work, 'down-changed.bin');
      const partial = Buffer.from(sourceData.subarray(0, half));
      partial[half - 1] = (partial[half - 1] as number) ^ 0x01;
      await fsp.writeFile(local, partial);
      const err = await caught(download(c.sftp, '/down.bin', local));
      expect(err).to.be.instanceOf(ResumeMismatchError);
      expect((err as ResumeMismatchError).message).to.include(md5(partial));
      expect((await fsp.readFile(local)).equals(partial)).to.equal(true);

      // Starting over replaces it.
      const r = await download(c.sftp, '/down.bin', local, { resume: 'never' });
      expect(r.resumedFrom).to.equal(0);
      expect((await fsp.readFile(local)).equals(sourceData)).to.equal(true);
    });
  });

  describe('check-file through the client channel', () => {
    before(async () => {
      await fsp.copyFile(source, remoteFile('sums.bin'));
    });

    it('hashes the whole file with md5 and sha256', async () => {
      const c = await login();
      for (const algorithm of ['md5', 'sha256']) {
        const r = await c.sftp.checkFile({ path: '/sums.bin' }, { algorithms: [algorithm] });
        expect(r.algorithm).to.equal(algorithm);
        expect(r.digests).to.have.length(1);
        expect(r.digests[0]!.equals(digest(algorithm, sourceData))).to.equal(true);
      }
    });

    it('hashes a range', async () => {
      const c = await login();
      const offset = MiB + 3;
      const length = 2 * MiB + 5;
      const r = await c.sftp.checkFile(
        { path: '/sums.bin' },
        { algorithms: ['md5'], offset, length },
      );
      const expected = digest('md5', sourceData.subarray(offset, offset + length));
      expect(r.digests[0]!.equals(expected)).to.equal(true);
    });

    it('hashes per block through a handle', async () => {
      const c = await login();
      const handle = await c.sftp.open('/sums.bin', OpenFlag.READ);
      try {
        const r = await c.sftp.checkFile(
          { handle },
          { algorithms: ['sha256', 'md5'], blockSize: MiB },
        );
        expect(r.algorithm).to.equal('sha256');
        const expected: string[] = [];
        for (let at = 0; at < SIZE; at += MiB) {
          expected.push(digest('sha256', sourceData.subarray(at, at + MiB)).toString('hex'));
        }
        expect(r.digests.map((d) => d.toString('hex'))).to.deep.equal(expected);
      } finally {
        await c.sftp.close(handle);
      }
    });
  });
});
