/**
 * Checksums a client can ask for: check-file in both reply layouts (ProFTPD's
 * for WinSCP, the draft's for paramiko, checked with paramiko itself), the
 * hash commands over exec that rclone uses, and WinSCP's way of uploading.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import type { Client } from 'ssh2';
import { OpenFlag, Status } from '../../src/sftp/constants';
import { RawSftp, extendedOf, statusOf } from '../helpers/raw-sftp';
import { call, connectClient, endClient, openSftp } from '../helpers/ssh-client';
import { sshExec } from '../helpers/openssh';
import { fixture } from '../helpers/files';
import { waitForLog, waitUntil } from '../helpers/probe';
import { startTestServer, type TestServer } from '../helpers/server';

const MiB = 1024 * 1024;
const ZS = { user: 'zhangsan', password: '123' };

function digest(algorithm: string, data: Buffer): Buffer {
  return createHash(algorithm).update(data).digest();
}

function runPython(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('/usr/bin/python3', args, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('checksums', function () {
  let server: TestServer;
  let client: Client;
  let raw: RawSftp;
  const data = randomBytes(3 * MiB + 1234);

  before(async () => {
    server = await startTestServer();
    await fsp.mkdir(path.join(server.home('zhangsan'), 'dir'));
    await fsp.writeFile(path.join(server.home('zhangsan'), 'dir', 'a file.bin'), data);
    client = await connectClient(server.port, ZS);
    raw = await RawSftp.open(client);
  });

  after(async () => {
    await raw.end();
    await endClient(client);
    await server.stop();
  });

  /** Sends check-file-name / check-file-handle and returns [algorithm, digests]. */
  async function checkFile(
    request: 'check-file-name' | 'check-file-handle' | 'check-file',
    target: string,
    o: { algs: string; offset?: number; length?: number; block?: number },
  ): Promise<{ words: string[]; rest: Buffer }> {
    const r = await raw.extended(request, (w) =>
      w
        .string(target)
        .string(o.algs)
        .u64(o.offset ?? 0)
        .u64(o.length ?? 0)
        .u32(o.block ?? 0),
    );
    const reader = extendedOf(r);
    const words = [reader.string()];
    if (words[0] === 'check-file') words.push(reader.string());
    return { words, rest: reader.rest() };
  }

  describe('check-file', () => {
    it('is advertised with the algorithms it knows', () => {
      expect(raw.extensions.get('check-file')).to.equal('md5,sha1,sha256,sha512');
    });

    it('hashes a whole file by name (ProFTPD layout: algorithm, then raw digest)', async () => {
      const { words, rest } = await checkFile('check-file-name', '/dir/a file.bin', {
        algs: 'md5',
      });
      expect(words).to.deep.equal(['md5']);
      expect(rest.equals(digest('md5', data))).to.equal(true);
    });

    it('takes the first algorithm of the list it supports', async () => {
      const { words, rest } = await checkFile('check-file-name', '/dir/a file.bin', {
        algs: 'crc32,sha256,md5',
      });
      expect(words).to.deep.equal(['sha256']);
      expect(rest.equals(digest('sha256', data))).to.equal(true);
    });

    it('hashes a range and blocks through a handle', async () => {
      const handle = await raw.open('/dir/a file.bin', OpenFlag.READ);
      const range = await checkFile('check-file-handle', handle, {
        algs: 'sha1',
        offset: 1000,
        length: 5000,
      });
      expect(range.rest.equals(digest('sha1', data.subarray(1000, 6000)))).to.equal(true);

      const blocks = await checkFile('check-file-handle', handle, { algs: 'md5', block: MiB });
      const want = [0, 1, 2, 3].map((i) => digest('md5', data.subarray(i * MiB, (i + 1) * MiB)));
      expect(blocks.rest.equals(Buffer.concat(want))).to.equal(true);
      expect((await raw.read(handle, 0, 10))?.length).to.equal(10);
      await raw.close(handle);
      // The log's bytes_out is what the client was sent, not what the digests read.
      const closed = await waitForLog(server.dataDir, 'file.closed', { path: '/dir/a file.bin' });
      expect(closed.bytes_out).to.equal(10);
    });

    it('answers the plain check-file request in the draft layout', async () => {
      const handle = await raw.open('/dir/a file.bin', OpenFlag.READ);
      const { words, rest } = await checkFile('check-file', handle, { algs: 'sha512' });
      expect(words).to.deep.equal(['check-file', 'sha512']);
      expect(rest.equals(digest('sha512', data))).to.equal(true);
      await raw.close(handle);
    });

    it('refuses a bad handle, an offset past the end, a tiny block and unknown algorithms', async () => {
      const bad = await raw.extended('check-file-handle', (w) =>
        w.string('nope').string('md5').u64(0).u64(0).u32(0),
      );
      expect(statusOf(bad).code).to.equal(Status.FAILURE);
      const past = await raw.extended('check-file-name', (w) =>
        w
          .string('/dir/a file.bin')
          .string('md5')
          .u64(data.length + 1)
          .u64(0)
          .u32(0),
      );
      const pastStatus = statusOf(past);
      expect(pastStatus.code).to.equal(Status.FAILURE);
      expect(pastStatus.message).to.match(/past the end/);
      const tiny = await raw.extended('check-file-name', (w) =>
        w.string('/dir/a file.bin').string('md5').u64(0).u64(0).u32(100),
      );
      expect(statusOf(tiny).code).to.equal(Status.FAILURE);
      const unknown = await raw.extended('check-file-name', (w) =>
        w.string('/dir/a file.bin').string('crc32').u64(0).u64(0).u32(0),
      );
      expect(statusOf(unknown).code).to.equal(Status.OP_UNSUPPORTED);
      // 12,293 SHA-512 digests of 256-byte blocks would make a 787 KB reply.
      const many = await raw.extended('check-file-name', (w) =>
        w.string('/dir/a file.bin').string('sha512').u64(0).u64(0).u32(256),
      );
      const manyStatus = statusOf(many);
      expect(manyStatus.code).to.equal(Status.FAILURE);
      expect(manyStatus.message).to.equal(
        '12293 blocks would not fit in one reply (at most 4096): ' +
          'ask for blocks of at least 769 bytes, or a shorter range',
      );
      const fits = await checkFile('check-file-name', '/dir/a file.bin', {
        algs: 'sha512',
        block: 1024,
      });
      expect(fits.rest.length).to.equal(Math.ceil(data.length / 1024) * 64);
    });

    it("records an upload's MD5 in the ledger as it arrives and answers check-file with it", async () => {
      const sftp = await openSftp(client);
      const up = randomBytes(2 * MiB + 7);
      await call((cb) => sftp.writeFile('/uploaded.bin', up, cb));
      const { rest } = await checkFile('check-file-name', '/uploaded.bin', { algs: 'md5' });
      expect(rest.equals(digest('md5', up))).to.equal(true);
      const rec = await server.store.uploads.get('zhangsan', '/uploaded.bin');
      expect(rec?.bytes).to.equal(up.length);
      expect(rec?.md5).to.equal(digest('md5', up).toString('hex'));
      sftp.end();
    });

    it('keeps no ledger record for an upload under 1 MiB, and still answers check-file for it', async () => {
      const sftp = await openSftp(client);
      const small = randomBytes(MiB - 1);
      await call((cb) => sftp.writeFile('/small.bin', small, cb));
      expect(await server.store.uploads.get('zhangsan', '/small.bin')).to.equal(undefined);
      const { rest } = await checkFile('check-file-name', '/small.bin', { algs: 'md5' });
      expect(rest.equals(digest('md5', small))).to.equal(true);
      sftp.end();
    });

    it("matches paramiko's SFTPFile.check()", async function () {
      const probe = await runPython(['-c', 'import paramiko']);
      if (probe.code !== 0) {
        // .ci/run installs python3-paramiko; a developer machine may not have it.
        console.log('      (python3-paramiko is not installed: skipped)');
        this.skip();
      }
      const script = fixture('paramiko-check.py');
      const whole = await runPython([
        script,
        String(server.port),
        'zhangsan',
        '123',
        '/dir/a file.bin',
        'sha256',
        '0',
        '0',
        '0',
      ]);
      expect(whole.code, whole.stderr).to.equal(0);
      expect(whole.stdout.trim()).to.equal(digest('sha256', data).toString('hex'));
      const blocks = await runPython([
        script,
        String(server.port),
        'zhangsan',
        '123',
        '/dir/a file.bin',
        'md5',
        '0',
        String(2 * MiB),
        String(MiB),
      ]);
      expect(blocks.code, blocks.stderr).to.equal(0);
      expect(blocks.stdout.trim().split('\n')).to.deep.equal(
        [0, 1].map((i) => digest('md5', data.subarray(i * MiB, (i + 1) * MiB)).toString('hex')),
      );
    });
  });

  describe('hash commands over exec', () => {
    it('prints what GNU coreutils prints for a quoted path with a space', async () => {
      const onDisk = path.join(server.home('zhangsan'), 'dir', 'a file.bin');
      const gnu = await new Promise<string>((resolve, reject) =>
        execFile('md5sum', [onDisk], (err, out) => (err ? reject(err) : resolve(out))),
      );
      const r = await sshExec(server.port, ZS, ['md5sum', "'dir/a file.bin'"]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal(`${gnu.split(' ')[0]}  dir/a file.bin\n`);
      const sha = await sshExec(server.port, ZS, ['sha256sum', '"/dir/a file.bin"']);
      expect(sha.stdout).to.equal(`${digest('sha256', data).toString('hex')}  /dir/a file.bin\n`);
    });

    it('refuses paths outside the home without revealing anything', async () => {
      const r = await sshExec(server.port, ZS, ['sha1sum', '../../../../etc/passwd']);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.match(/: No such file\n/);
      expect(r.stderr).not.to.include(server.dataDir);
    });

    it('exits 1 with a message for a missing file', async () => {
      const missing = await sshExec(server.port, ZS, ['sha512sum', 'nope.bin']);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.include('nope.bin');
    });

    it('hashes standard input with no argument, as rclone probes for it', async () => {
      const none = await sshExec(server.port, ZS, ['md5sum'], 'abc');
      expect(none.code, none.stderr).to.equal(0);
      expect(none.stdout).to.equal(`${digest('md5', Buffer.from('abc')).toString('hex')}  -\n`);
      const empty = await sshExec(server.port, ZS, ['sha1sum']);
      expect(empty.stdout).to.equal('da39a3ee5e6b4b0d3255bfef95601890afd80709  -\n');
    });
  });

  describe("WinSCP's upload: name.filepart, then rename over the target", () => {
    it('replaces the target and keeps usage equal to the disk', async () => {
      const sftp = await openSftp(client);
      const first = randomBytes(MiB);
      const second = randomBytes(MiB + 99);
      await call((cb) => sftp.writeFile('/w.bin', first, cb));
      await call((cb) => sftp.writeFile('/w.bin.filepart', second, cb));
      await call((cb) => sftp.unlink('/w.bin', cb));
      await call((cb) => sftp.rename('/w.bin.filepart', '/w.bin', cb));
      const when = Math.floor(Date.now() / 1000) - 3600;
      await call((cb) => sftp.setstat('/w.bin', { mtime: when, atime: when }, cb));
      const onDisk = await fsp.readFile(path.join(server.home('zhangsan'), 'w.bin'));
      expect(onDisk.equals(second)).to.equal(true);
      const st = await fsp.stat(path.join(server.home('zhangsan'), 'w.bin'));
      expect(Math.floor(st.mtimeMs / 1000)).to.equal(when);
      // The digest of a finished upload may be completed after its CLOSE; the
      // record then lands under the name the file has by then.
      await waitUntil(
        'the record of /w.bin',
        async () => (await server.store.uploads.get('zhangsan', '/w.bin')) !== undefined,
      );
      const rec = await server.store.uploads.get('zhangsan', '/w.bin');
      expect(rec?.bytes).to.equal(second.length);
      expect(await server.store.uploads.get('zhangsan', '/w.bin.filepart')).to.equal(undefined);
      // The new times are WinSCP's "preserve timestamp": the content is the
      // upload's, so the record follows the mtime and stays current.
      expect(rec?.fileMtimeMs).to.equal(when * 1000);
      expect(rec?.md5).to.equal(digest('md5', second).toString('hex'));
      sftp.end();
    });
  });
});
