/**
 * The terminal client's wildcards (put/get/rm, mput/mget) and `mirror`, in
 * batch mode against a real server: what is transferred, what a second run
 * does (nothing), --delete, --dry-run, --checksum, -R, and the exit codes.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { snapshotTree, writeRandomFile } from '../helpers/files';
import { runBatch, type ClientOutcome } from '../helpers/client-process';
import { startTestServer, type TestServer } from '../helpers/server';

type Run = ClientOutcome;

describe('client wildcards and mirror (batch mode)', function () {
  this.timeout(30_000);
  let server: TestServer;
  let work: string;
  let local: string;
  let home: string;

  const batch = (commands: string[]): Promise<Run> =>
    runBatch(['--accept-new-host-key', `zhangsan@127.0.0.1:${server.port}`], commands, {
      cwd: local,
      env: { HOME: home },
    });

  const remote = (p: string): string => path.join(server.home('zhangsan'), p);
  const exists = (p: string): Promise<boolean> =>
    fsp.stat(p).then(
      () => true,
      () => false,
    );
  const names = async (dir: string): Promise<string[]> => (await fsp.readdir(dir)).sort();

  before(async () => {
    server = await startTestServer();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-client-mirror-'));
    local = path.join(work, 'local');
    home = path.join(work, 'home');
    await fsp.mkdir(local);
    await fsp.mkdir(home);
  });

  after(async () => {
    await server.stop();
    await fsp.rm(work, { recursive: true, force: true });
  });

  describe('wildcards', () => {
    before(async () => {
      await fsp.mkdir(path.join(local, 'w'));
      for (const n of ['a.txt', 'b.txt', 'c.log', '.hidden.txt']) {
        await fsp.writeFile(path.join(local, 'w', n), `${n}\n`);
      }
    });

    it('put and mput upload what the pattern matches, not dot files', async () => {
      const r = await batch(['mkdir wild', 'cd wild', 'put w/*.txt', 'mput w/*.l?g']);
      expect(r.code, r.stderr).to.equal(0);
      expect(await names(remote('wild'))).to.deep.equal(['a.txt', 'b.txt', 'c.log']);
      expect(r.stdout).to.include('put a.txt: done').and.include('put c.log: done');
    });

    it('get and mget match the remote listing; several files need a folder as target', async () => {
      await fsp.mkdir(path.join(local, 'down'));
      const r = await batch(['cd wild', 'get [ab].txt down', 'mget *.log down']);
      expect(r.code, r.stderr).to.equal(0);
      expect(await names(path.join(local, 'down'))).to.deep.equal(['a.txt', 'b.txt', 'c.log']);

      const wrong = await batch(['cd wild', 'get *.txt one-file.txt']);
      expect(wrong.code).to.equal(1);
      expect(wrong.stderr).to.include(
        '2 files match, so one-file.txt must be an existing local folder',
      );
      expect(await exists(path.join(local, 'one-file.txt'))).to.equal(false);
    });

    it('a pattern that matches nothing is an error with exit status 1; "-" goes on', async () => {
      const r = await batch(['put w/*.none', 'pwd']);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.include('put w/*.none: no local file or folder matches the pattern');
      expect(r.stdout).not.to.include('remote folder:');

      const tolerant = await batch(['-get nothing*', 'rm wild/*.zip', 'pwd']);
      expect(tolerant.code).to.equal(1);
      expect(tolerant.stderr).to.include('get nothing*: no remote file or folder matches');
      expect(tolerant.stderr).to.include('rm wild/*.zip: no remote file or folder matches');
    });

    it('rm deletes what the pattern matches and keeps the rest', async () => {
      const r = await batch(['rm wild/*.txt']);
      expect(r.code, r.stderr).to.equal(0);
      expect(await names(remote('wild'))).to.deep.equal(['c.log']);
    });
  });

  describe('mirror', () => {
    const src = (): string => path.join(local, 'src');

    before(async () => {
      await fsp.mkdir(path.join(src(), 'sub', 'deeper'), { recursive: true });
      await fsp.writeFile(path.join(src(), 'one.txt'), 'one\n');
      await writeRandomFile(path.join(src(), 'sub', 'big.bin'), 300_000);
      await fsp.writeFile(path.join(src(), 'sub', 'deeper', 'two.txt'), 'two\n');
      await fsp.mkdir(path.join(src(), 'empty'));
    });

    it('-R uploads the tree; a second run transfers nothing', async () => {
      const first = await batch(['mirror -R src site']);
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stdout).to.include('mirror plan: 3 to upload, 0 to delete, 0 already the same');
      expect(first.stdout).to.include('mirror: done, 3 transferred');
      expect(await snapshotTree(remote('site'))).to.deep.equal(await snapshotTree(src()));
      expect(await exists(remote('site/empty'))).to.equal(true);
      const st = await fsp.stat(remote('site/sub/big.bin'));
      const orig = await fsp.stat(path.join(src(), 'sub', 'big.bin'));
      expect(Math.floor(st.mtimeMs / 1000)).to.equal(Math.floor(orig.mtimeMs / 1000));

      const second = await batch(['mirror -R src site']);
      expect(second.code, second.stderr).to.equal(0);
      expect(second.stdout).to.include('0 to upload, 0 to delete, 3 already the same');
      expect(second.stdout).to.include('mirror: nothing to do');
    });

    it('without -R downloads; a second run transfers nothing', async () => {
      const first = await batch(['mirror site copy']);
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stdout).to.include('3 to download');
      expect(await snapshotTree(path.join(local, 'copy'))).to.deep.equal(await snapshotTree(src()));
      const second = await batch(['mirror site copy']);
      expect(second.code, second.stderr).to.equal(0);
      expect(second.stdout).to.include('0 to download, 0 to delete, 3 already the same');
    });

    it('--dry-run shows the plan and changes nothing', async () => {
      await fsp.writeFile(path.join(src(), 'added.txt'), 'added\n');
      await fsp.rm(path.join(src(), 'one.txt'));
      const before = await snapshotTree(remote('site'));
      const r = await batch(['mirror -R --delete --dry-run src site']);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.include('put added.txt (new, 6 bytes)');
      expect(r.stdout).to.include('delete one.txt');
      expect(r.stdout).to.include('dry run: nothing changed');
      expect(await snapshotTree(remote('site'))).to.deep.equal(before);
    });

    it('--delete removes what is gone from the source; without it, it stays', async () => {
      const keep = await batch(['mirror -R src site']);
      expect(keep.code, keep.stderr).to.equal(0);
      expect(await exists(remote('site/one.txt'))).to.equal(true);
      expect(await exists(remote('site/added.txt'))).to.equal(true);

      await fsp.rm(path.join(src(), 'sub', 'deeper'), { recursive: true });
      const del = await batch(['mirror -R --delete src site']);
      expect(del.code, del.stderr).to.equal(0);
      expect(del.stdout).to.include('deleted one.txt').and.include('deleted sub/deeper');
      expect(await snapshotTree(remote('site'))).to.deep.equal(await snapshotTree(src()));
    });

    it('continues a partial file by the MD5 rule', async () => {
      const big = path.join(src(), 'sub', 'big.bin');
      const copy = path.join(local, 'copy', 'sub', 'big.bin');
      // A partial copy: the first 100000 bytes of the server's file.
      const whole = await fsp.readFile(remote('site/sub/big.bin'));
      await fsp.writeFile(copy, whole.subarray(0, 100_000));
      const r = await batch(['mirror --delete site copy']);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/get big\.bin: done, received 200000 bytes .*resumed from 100000/);
      expect(await fsp.readFile(copy)).to.deep.equal(await fsp.readFile(big));
    });

    it('--checksum finds a same-size, same-time file whose content differs', async () => {
      const file = path.join(local, 'copy', 'added.txt');
      const st = await fsp.stat(file);
      await fsp.writeFile(file, 'ADDED\n');
      await fsp.utimes(file, st.atime, st.mtime);
      const plain = await batch(['mirror --dry-run site copy']);
      expect(plain.stdout).to.include('0 to download');
      const r = await batch(['mirror --checksum site copy']);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.include('get added.txt (MD5 differs');
      expect(await fsp.readFile(file, 'utf8')).to.equal('added\n');
    });

    it('refuses a file where the other side has a folder, before any change', async () => {
      await fsp.mkdir(path.join(local, 'clash', 'added.txt'), { recursive: true });
      const r = await batch(['mirror --delete site clash']);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.include(
        'added.txt is a file on the remote side and a folder on the local side',
      );
      expect(await names(path.join(local, 'clash'))).to.deep.equal(['added.txt']);
      const bad = await batch(['mirror --sideways site clash']);
      expect(bad.code).to.equal(1);
      expect(bad.stderr).to.include('mirror: unknown option --sideways');
    });
  });
});
