/**
 * MiniFTP's client over a long link's ways: a large download spread over
 * several SFTP sessions (--segments), and a folder of small files uploaded
 * with many files in flight at once; both end with files identical to their
 * sources (MD5), and both continue correctly after an interruption.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { connect, type Connection } from '../../src/client/connect';
import { TransferAbortedError } from '../../src/client/errors';
import { ClientSession } from '../../src/client/session';
import { download } from '../../src/client/transfer';
import { SMALL_AT_ONCE, TransferQueue, type TransferJob } from '../../src/client/transfer-queue';
import { writeRandomFile } from '../helpers/files';
import { startTestServer, type TestServer } from '../helpers/server';

const MiB = 1024 * 1024;

async function md5Of(file: string): Promise<string> {
  return createHash('md5')
    .update(await fsp.readFile(file))
    .digest('hex');
}

describe('long links: the client', function () {
  this.timeout(60_000);
  let server: TestServer;
  let work: string;
  const open: Connection[] = [];

  const login = async (): Promise<Connection> => {
    const c = await connect({
      host: '127.0.0.1',
      port: server.port,
      username: 'zhangsan',
      password: '123',
    });
    open.push(c);
    return c;
  };
  const onServer = (p: string): string => path.join(server.home('zhangsan'), p);

  before(async () => {
    server = await startTestServer();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-long-link-'));
  });

  afterEach(async () => {
    for (const c of open.splice(0)) await c.close().catch(() => undefined);
  });

  after(async () => {
    await server.stop();
    await fsp.rm(work, { recursive: true, force: true });
  });

  describe('a download in segments', () => {
    const size = 24 * MiB + 4321;
    let source: string;

    before(async () => {
      await writeRandomFile(onServer('seg.bin'), size);
      source = await md5Of(onServer('seg.bin'));
    });

    it('spreads a large file over 4 sessions and gets it whole (MD5 verified)', async () => {
      const c = await login();
      const local = path.join(work, 'seg-whole.bin');
      const r = await download(c.sftp, '/seg.bin', local, { segments: 4 });
      expect(r.segments).to.equal(4);
      expect(r.verified).to.equal(true);
      expect(r.md5).to.equal(source);
      expect(await md5Of(local)).to.equal(source);
    });

    it('keeps one session for a small file', async () => {
      await writeRandomFile(onServer('seg-small.bin'), 100_000);
      const c = await login();
      const r = await download(c.sftp, '/seg-small.bin', path.join(work, 'small.bin'), {
        segments: 4,
      });
      expect(r.segments).to.equal(1);
    });

    it('interrupted, keeps only its proven start, and the next download continues it', async () => {
      const c = await login();
      const local = path.join(work, 'seg-cut.bin');
      const abort = new AbortController();
      const err = await download(c.sftp, '/seg.bin', local, {
        segments: 4,
        signal: abort.signal,
        progressIntervalMs: 0,
        onProgress: (p) => {
          if (p.transferred >= 6 * MiB) abort.abort();
        },
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(TransferAbortedError);
      const kept = (await fsp.stat(local)).size;
      // How much is proven by then depends on how the segments went (none, under load).
      expect(kept).to.be.lessThan(size);
      // What is kept is the server's own first bytes: no hole, no block from further on.
      const head = (await fsp.readFile(onServer('seg.bin'))).subarray(0, kept);
      expect((await fsp.readFile(local)).equals(head)).to.equal(true);

      const again = await download(c.sftp, '/seg.bin', local, { segments: 4 });
      expect(again.resumedFrom).to.equal(kept);
      expect(again.bytesSent).to.equal(size - kept);
      expect(again.md5).to.equal(source);
      expect(await md5Of(local)).to.equal(source);
    });
  });

  describe('a folder of small files', () => {
    const count = 150;
    let tree: string;

    before(async () => {
      tree = path.join(work, 'many');
      await fsp.mkdir(path.join(tree, 'sub'), { recursive: true });
      for (let i = 0; i < count; i++) {
        const dir = i % 3 === 0 ? path.join(tree, 'sub') : tree;
        await writeRandomFile(path.join(dir, `f${i}.bin`), 1000 + i * 37);
      }
    });

    async function sessionOn(c: Connection): Promise<ClientSession> {
      const queue = new TransferQueue({ sftp: c.sftp });
      return new ClientSession({
        sftp: c.sftp,
        queue,
        localCwd: work,
        remoteHome: await c.sftp.realpath('.'),
      });
    }

    /** The most jobs running at once, from the queue's own events. */
    function watchRunning(queue: TransferQueue): () => number {
      let running = 0;
      let most = 0;
      const seen = new Map<number, string>();
      queue.on('change', (job: TransferJob) => {
        const before = seen.get(job.id);
        if (before === job.state) return;
        if (job.state === 'running') running++;
        if (before === 'running') running--;
        seen.set(job.id, job.state);
        most = Math.max(most, running);
      });
      return () => most;
    }

    async function expectSameTree(remoteDir: string): Promise<void> {
      for (let i = 0; i < count; i++) {
        const rel = i % 3 === 0 ? path.join('sub', `f${i}.bin`) : `f${i}.bin`;
        expect(await md5Of(onServer(path.join(remoteDir, rel))), rel).to.equal(
          await md5Of(path.join(tree, rel)),
        );
      }
    }

    it('uploads them with many files in flight at once, every one identical', async () => {
      const s = await sessionOn(await login());
      const most = watchRunning(s.queue);
      const jobs = await s.put('many', 'up1', false);
      expect(jobs).to.have.length(count);
      await Promise.all(jobs.map((j) => j.done));
      expect(most()).to.be.greaterThan(1).and.at.most(SMALL_AT_ONCE);
      for (const j of jobs) expect(j.result?.verified, j.label).to.equal(true);
      await expectSameTree('up1');
    });

    it('cut short, a second put sends only what is missing and ends identical', async () => {
      await fsp.mkdir(onServer('up2'));
      const s = await sessionOn(await login());
      const jobs = await s.put('many', 'up2', false);
      // Cancel everything once a third of the files are done.
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (jobs.filter((j) => j.state === 'done').length >= count / 3) {
            s.queue.off('change', check);
            s.queue.cancelAll();
            resolve();
          }
        };
        s.queue.on('change', check);
        check();
      });
      await s.queue.idle();
      const doneFirst = jobs.filter((j) => j.state === 'done').length;
      expect(doneFirst).to.be.lessThan(count);

      const s2 = await sessionOn(await login());
      const again = await s2.put('many', 'up2', false);
      await Promise.all(again.map((j) => j.done));
      const unchanged = again.filter((j) => j.result?.bytesSent === 0).length;
      // The files done the first time are proven the same by MD5 and not sent again.
      expect(unchanged).to.be.at.least(doneFirst);
      for (const j of again) expect(j.result?.verified, j.label).to.equal(true);
      await expectSameTree('up2/many');
    });
  });
});
