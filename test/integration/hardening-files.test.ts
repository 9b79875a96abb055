/**
 * Files on the server: new ones get the configured umask, SETSTAT can set
 * neither setuid/setgid/sticky bits nor the owner, special files (FIFOs,
 * sockets, devices) are never opened, and a full disk fails one write with a
 * clear message while the session and the server carry on.
 */
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { expect } from 'chai';
import type { Client, OpenMode, SFTPWrapper } from 'ssh2';
import { Status } from '../../src/sftp/constants';
import { sha256 } from '../helpers/files';
import { makeDataDir, startTestServer, type TestServer } from '../helpers/server';
import {
  call,
  connectClient,
  endClient,
  expectFailure,
  openSftp,
  statusCode,
} from '../helpers/ssh-client';

const ZHANGSAN = { user: 'zhangsan', password: '123' };
const MiB = 1024 * 1024;

async function session(port: number): Promise<{ client: Client; sftp: SFTPWrapper }> {
  const client = await connectClient(port, ZHANGSAN);
  return { client, sftp: await openSftp(client) };
}

function mode(p: string): Promise<number> {
  return fsp.stat(p).then((st) => st.mode & 0o7777);
}

/** Fails the test instead of hanging it when `p` takes longer than `ms`. */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('hardening: files', function () {
  const originalUmask = process.umask();
  after(function () {
    // startServer sets the process umask; leave the test process as it was.
    process.umask(originalUmask);
  });

  for (const [umask, file, dir] of [
    ['022', 0o644, 0o755],
    ['077', 0o600, 0o700],
  ] as const) {
    describe(`--umask ${umask}`, function () {
      let server: TestServer;
      let c: { client: Client; sftp: SFTPWrapper };
      before(async function () {
        server = await startTestServer({ flags: ['--umask', umask] });
        c = await session(server.port);
      });
      after(async function () {
        if (c) await endClient(c.client);
        await server?.stop();
      });

      it(`creates files ${file.toString(8)} and directories ${dir.toString(8)}`, async function () {
        const home = server.home('zhangsan');
        const h = await call<Buffer>((cb) => c.sftp.open('/plain', 'w', cb));
        await call((cb) => c.sftp.close(h, cb));
        // A client asking for wide-open modes still gets the umask applied.
        const wide = await call<Buffer>((cb) => c.sftp.open('/wide', 'w', { mode: 0o777 }, cb));
        await call((cb) => c.sftp.close(wide, cb));
        await call((cb) => c.sftp.mkdir('/d', cb));
        await call((cb) => c.sftp.mkdir('/dwide', { mode: 0o777 }, cb));
        expect(await mode(path.join(home, 'plain'))).to.equal(file);
        expect(await mode(path.join(home, 'wide'))).to.equal(0o777 & ~parseInt(umask, 8));
        expect(await mode(path.join(home, 'd'))).to.equal(dir);
        expect(await mode(path.join(home, 'dwide'))).to.equal(dir);
      });
    });
  }

  describe('permissions, owners and special files', function () {
    let server: TestServer;
    let c: { client: Client; sftp: SFTPWrapper };
    let home: string;
    before(async function () {
      server = await startTestServer();
      c = await session(server.port);
      home = server.home('zhangsan');
    });
    after(async function () {
      if (c) await endClient(c.client);
      await server?.stop();
    });

    it('never sets setuid, setgid or sticky bits, on create, mkdir, setstat or fsetstat', async function () {
      const h = await call<Buffer>((cb) => c.sftp.open('/s', 'w', { mode: 0o6777 }, cb));
      await call((cb) => c.sftp.close(h, cb));
      expect((await mode(path.join(home, 's'))) & 0o7000).to.equal(0);
      await call((cb) => c.sftp.mkdir('/sd', { mode: 0o3777 }, cb));
      expect((await mode(path.join(home, 'sd'))) & 0o7000).to.equal(0);

      for (const bits of [0o4755, 0o2755, 0o1777, 0o7777]) {
        await call((cb) => c.sftp.setstat('/s', { mode: bits }, cb));
        expect(await mode(path.join(home, 's'))).to.equal(bits & 0o777);
        await call((cb) => c.sftp.setstat('/sd', { mode: bits }, cb));
        expect(await mode(path.join(home, 'sd'))).to.equal(bits & 0o777);
        const fh = await call<Buffer>((cb) => c.sftp.open('/s', 'r+', cb));
        await call((cb) => c.sftp.fsetstat(fh, { mode: bits }, cb));
        await call((cb) => c.sftp.close(fh, cb));
        expect(await mode(path.join(home, 's'))).to.equal(bits & 0o777);
      }
    });

    it('ignores owner and group changes', async function () {
      const before = await fsp.stat(path.join(home, 's'));
      await call((cb) => c.sftp.setstat('/s', { uid: 4321, gid: 4321 }, cb));
      await call((cb) => c.sftp.chown('/s', 1, 1, cb));
      const fh = await call<Buffer>((cb) => c.sftp.open('/s', 'r+', cb));
      await call((cb) => c.sftp.fchown(fh, 4321, 4321, cb));
      await call((cb) => c.sftp.close(fh, cb));
      const after = await fsp.stat(path.join(home, 's'));
      expect([after.uid, after.gid]).to.deep.equal([before.uid, before.gid]);
    });

    it('refuses to open a FIFO, a socket or a device, at once and for any access', async function () {
      execFileSync('mkfifo', [path.join(home, 'fifo')]);
      const sock = net.createServer();
      await new Promise<void>((resolve) => sock.listen(path.join(home, 'sock'), resolve));
      let device = true;
      try {
        // /dev/null's numbers: harmless even if it were opened.
        execFileSync('mknod', [path.join(home, 'dev'), 'c', '1', '3'], { stdio: 'ignore' });
      } catch {
        device = false;
        console.log('      (mknod is not permitted here: the device case is skipped)');
      }
      try {
        for (const name of ['fifo', 'sock', ...(device ? ['dev'] : [])]) {
          for (const flags of ['r', 'w', 'r+', 'a'] as OpenMode[]) {
            const err = await within(
              5000,
              `open ${name} ${flags}`,
              expectFailure(
                call<Buffer>((cb) => c.sftp.open(`/${name}`, flags, cb)),
                Status.PERMISSION_DENIED,
              ),
            );
            expect(err.message, `${name} ${flags}`).to.equal('not a regular file');
          }
        }
        // The session is fine, and the entries are still listed.
        const names = await call<Array<{ filename: string }>>((cb) => c.sftp.readdir('/', cb));
        expect(names.map((n) => n.filename)).to.include.members(['fifo', 'sock']);
      } finally {
        await new Promise<void>((resolve) => sock.close(() => resolve()));
      }
    });
  });

  describe('a full disk (8 MiB tmpfs)', function () {
    let dataDir: string;
    let server: TestServer | undefined;
    let mounted = false;
    before(async function () {
      dataDir = await makeDataDir();
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dataDir], {
          stdio: 'pipe',
        });
        mounted = true;
      } catch (err) {
        const why = (err as { stderr?: Buffer }).stderr?.toString().trim() || String(err);
        console.log(`      (cannot mount a tmpfs here, skipping: ${why})`);
        this.skip();
      }
      server = await startTestServer({ dataDir });
    });
    after(async function () {
      // Not stop(): it would remove the data directory, the mount point itself.
      await server?.close();
      if (mounted) execFileSync('umount', [dataDir]);
      await fsp.rm(dataDir, { recursive: true, force: true });
    });

    it('fails the write that hits ENOSPC clearly, keeps what was written, and carries on', async function () {
      const s = server as TestServer;
      const home = s.home('zhangsan');
      // Leave about 2 MiB free, then upload 4 MiB.
      const free = (await fsp.statfs(home)).bavail * (await fsp.statfs(home)).bsize;
      await fsp.writeFile(path.join(home, 'filler'), Buffer.alloc(Math.max(0, free - 2 * MiB)));
      const data = Buffer.alloc(4 * MiB);
      for (let i = 0; i < data.length; i += 4) data.writeUInt32BE(i, i);
      const { client, sftp } = await session(s.port);
      try {
        const h = await call<Buffer>((cb) => sftp.open('/big', 'w', cb));
        const block = 256 * 1024;
        let written = 0;
        let failure: Error | undefined;
        while (written < data.length) {
          try {
            await call((cb) => sftp.write(h, data, written, block, written, cb));
            written += block;
          } catch (err) {
            failure = err as Error;
            break;
          }
        }
        expect(failure, 'the disk never filled').to.be.instanceOf(Error);
        expect(statusCode(failure)).to.equal(Status.FAILURE);
        expect(failure?.message).to.equal('no space left on the server disk');
        expect(written).to.be.greaterThan(0);
        await call((cb) => sftp.close(h, cb));
        // Every acknowledged byte is on the disk.
        const kept = await fsp.readFile(path.join(home, 'big'));
        expect(kept.length).to.be.at.least(written);
        expect(sha256(kept.subarray(0, written))).to.equal(sha256(data.subarray(0, written)));

        // The same session frees space and finishes the upload from where it stopped.
        await call((cb) => sftp.unlink('/filler', cb));
        const again = await call<Buffer>((cb) => sftp.open('/big', 'r+', cb));
        await call((cb) => sftp.write(again, data, written, data.length - written, written, cb));
        await call((cb) => sftp.close(again, cb));
        expect(sha256(await fsp.readFile(path.join(home, 'big')))).to.equal(sha256(data));
      } finally {
        await endClient(client);
      }
      // And the server still takes new logins and small writes.
      const fresh = await session(s.port);
      try {
        const h = await call<Buffer>((cb) => fresh.sftp.open('/small', 'w', cb));
        await call((cb) => fresh.sftp.write(h, Buffer.from('ok'), 0, 2, 0, cb));
        await call((cb) => fresh.sftp.close(h, cb));
      } finally {
        await endClient(fresh.client);
      }
      expect(await fsp.readFile(path.join(home, 'small'), 'utf8')).to.equal('ok');
    });

    it('lets users log in and delete uploads while the disk is full', async function () {
      const s = server as TestServer;
      const home = s.home('zhangsan');
      // An upload the server hashed as it arrived: it has a record in the database.
      const up = await session(s.port);
      try {
        const h = await call<Buffer>((cb) => up.sftp.open('/uploaded', 'w', cb));
        await call((cb) => up.sftp.write(h, Buffer.alloc(64 * 1024, 3), 0, 64 * 1024, 0, cb));
        await call((cb) => up.sftp.close(h, cb));
      } finally {
        await endClient(up.client);
      }
      const st = await fsp.statfs(home);
      await fsp.writeFile(path.join(home, 'filler2'), Buffer.alloc(st.bavail * st.bsize));
      expect((await fsp.statfs(home)).bavail).to.equal(0);
      const c = await session(s.port);
      try {
        await call((cb) => c.sftp.unlink('/uploaded', cb));
        await call((cb) => c.sftp.unlink('/filler2', cb));
      } finally {
        await endClient(c.client);
      }
    });
  });
});
