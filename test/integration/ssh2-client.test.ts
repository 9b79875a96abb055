/**
 * Every SFTP v3 request and every extension, through ssh2's client where it
 * can send them and through a raw channel where it cannot; several channels
 * on one connection; many requests in flight.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import type { Client, SFTPWrapper, Stats } from 'ssh2';
import { ExtensionRegistry, registerStandardExtensions } from '../../src/sftp/extensions';
import { Ext, OpenFlag, PacketType, Status } from '../../src/sftp/constants';
import { startTestServer, type TestServer } from '../helpers/server';
import { call, connectClient, endClient, expectFailure, openSftp } from '../helpers/ssh-client';
import {
  RawSftp,
  SftpStatusError,
  expectOk,
  extendedOf,
  handleOf,
  namesOf,
  statusOf,
} from '../helpers/raw-sftp';
import { sha256, sha256File, writeRandomFile } from '../helpers/files';

const R = OpenFlag.READ;
const W = OpenFlag.WRITE;
const CREAT = OpenFlag.CREAT;
const TRUNC = OpenFlag.TRUNC;
const EXCL = OpenFlag.EXCL;
const APPEND = OpenFlag.APPEND;

describe('ssh2 client against the SFTP server', function () {
  let server: TestServer;
  let client: Client;
  let sftp: SFTPWrapper;
  let raw: RawSftp;
  let home: string;
  let local: string;

  const disk = (p: string): string => path.join(home, p);

  before(async function () {
    server = await startTestServer();
    home = server.home('zhangsan');
    local = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-test-local-'));
    client = await connectClient(server.port, { user: 'zhangsan', password: '123' });
    sftp = await openSftp(client);
    raw = await RawSftp.open(client);
  });

  after(async function () {
    if (raw) await raw.end();
    if (client) await endClient(client);
    await server?.stop();
    if (local) await fsp.rm(local, { recursive: true, force: true });
  });

  async function writeVia(p: string, flags: number, data: Buffer): Promise<void> {
    const h = await call<Buffer>((cb) => sftp.open(p, flags, cb));
    await call((cb) => sftp.write(h, data, 0, data.length, 0, cb));
    await call((cb) => sftp.close(h, cb));
  }

  describe('OPEN flags', function () {
    it('WRITE|CREAT|TRUNC creates, then truncates an existing file', async function () {
      await writeVia('/t.txt', W | CREAT | TRUNC, Buffer.from('first version'));
      expect(await fsp.readFile(disk('t.txt'), 'utf8')).to.equal('first version');
      await writeVia('/t.txt', W | CREAT | TRUNC, Buffer.from('2nd'));
      expect(await fsp.readFile(disk('t.txt'), 'utf8')).to.equal('2nd');
    });

    it('CREAT|EXCL fails on an existing file and creates a new one', async function () {
      await fsp.writeFile(disk('excl.txt'), 'keep me');
      await expectFailure(
        call<Buffer>((cb) => sftp.open('/excl.txt', W | CREAT | EXCL, cb)),
        Status.FAILURE,
      );
      expect(await fsp.readFile(disk('excl.txt'), 'utf8')).to.equal('keep me');
      await writeVia('/excl-new.txt', W | CREAT | EXCL, Buffer.from('new'));
      expect(await fsp.readFile(disk('excl-new.txt'), 'utf8')).to.equal('new');
      // Without READ or WRITE (paramiko's open(name, 'x')): the same, as open(2) does.
      await expectFailure(
        call<Buffer>((cb) => sftp.open('/excl.txt', CREAT | EXCL, cb)),
        Status.FAILURE,
      );
      const h = await call<Buffer>((cb) => sftp.open('/excl-bare.txt', CREAT | EXCL, cb));
      await call((cb) => sftp.close(h, cb));
      expect((await fsp.stat(disk('excl-bare.txt'))).size).to.equal(0);
    });

    it('APPEND adds at the end whatever the offset', async function () {
      await fsp.writeFile(disk('app.txt'), 'head-');
      await writeVia('/app.txt', W | APPEND, Buffer.from('tail'));
      expect(await fsp.readFile(disk('app.txt'), 'utf8')).to.equal('head-tail');
    });

    it('READ|WRITE without TRUNC overwrites in place', async function () {
      await fsp.writeFile(disk('rw.txt'), 'abcdefgh');
      const h = await call<Buffer>((cb) => sftp.open('/rw.txt', R | W, cb));
      await call((cb) => sftp.write(h, Buffer.from('XY'), 0, 2, 3, cb));
      const buf = Buffer.alloc(8);
      const n = await call<number>((cb) => sftp.read(h, buf, 0, 8, 0, cb));
      await call((cb) => sftp.close(h, cb));
      expect(buf.subarray(0, n).toString()).to.equal('abcXYfgh');
    });

    it('a missing file without CREAT, a directory, or a bad handle is refused', async function () {
      await expectFailure(
        call<Buffer>((cb) => sftp.open('/missing.txt', R, cb)),
        Status.NO_SUCH_FILE,
      );
      await expectFailure(
        call<Buffer>((cb) => sftp.open('/missing.txt', W, cb)),
        Status.NO_SUCH_FILE,
      );
      await fsp.mkdir(disk('adir'));
      await expectFailure(
        call<Buffer>((cb) => sftp.open('/adir', R, cb)),
        Status.FAILURE,
      );
      await expectFailure(
        call((cb) => sftp.close(Buffer.from('no-such-handle'), cb)),
        Status.FAILURE,
      );
    });

    it('a write-only handle cannot be read, a read-only one cannot be written', async function () {
      await fsp.writeFile(disk('ro.txt'), 'data');
      const wh = await call<Buffer>((cb) => sftp.open('/ro.txt', W, cb));
      await expectFailure(
        call<number>((cb) => sftp.read(wh, Buffer.alloc(4), 0, 4, 0, cb)),
        Status.PERMISSION_DENIED,
      );
      await call((cb) => sftp.close(wh, cb));
      const rh = await call<Buffer>((cb) => sftp.open('/ro.txt', R, cb));
      await expectFailure(
        call((cb) => sftp.write(rh, Buffer.from('x'), 0, 1, 0, cb)),
        Status.PERMISSION_DENIED,
      );
      await call((cb) => sftp.close(rh, cb));
      expect(await fsp.readFile(disk('ro.txt'), 'utf8')).to.equal('data');
    });
  });

  describe('READ, FSTAT, FSETSTAT, SETSTAT', function () {
    it('reads up to the end, then EOF', async function () {
      await fsp.writeFile(disk('eof.txt'), '0123456789');
      const h = await raw.open('/eof.txt', R);
      expect((await raw.read(h, 5, 100))?.toString()).to.equal('56789');
      expect(await raw.read(h, 10, 100)).to.equal(undefined);
      expect(await raw.read(h, 1000, 100)).to.equal(undefined);
      await raw.close(h);
    });

    it('fstat and fsetstat: size, mode, times', async function () {
      await fsp.writeFile(disk('fs.txt'), 'some content');
      const h = await call<Buffer>((cb) => sftp.open('/fs.txt', R | W, cb));
      let st = await call<Stats>((cb) => sftp.fstat(h, cb));
      expect(st.size).to.equal(12);
      expect(st.isFile()).to.equal(true);
      await call((cb) =>
        sftp.fsetstat(h, { size: 4, mode: 0o640, atime: 1000000, mtime: 2000000 }, cb),
      );
      st = await call<Stats>((cb) => sftp.fstat(h, cb));
      expect(st.size).to.equal(4);
      expect(st.mode & 0o777).to.equal(0o640);
      expect(st.mtime).to.equal(2000000);
      expect(st.atime).to.equal(1000000);
      await call((cb) => sftp.fsetstat(h, { size: 100 }, cb));
      await call((cb) => sftp.close(h, cb));
      const onDisk = await fsp.stat(disk('fs.txt'));
      expect(onDisk.size).to.equal(100);
      expect(onDisk.mode & 0o777).to.equal(0o640);
    });

    it('setstat on a path; setuid bits are dropped', async function () {
      await fsp.writeFile(disk('ss.txt'), '0123456789');
      await call((cb) =>
        sftp.setstat('/ss.txt', { size: 3, mode: 0o4755, mtime: 3000000, atime: 3000000 }, cb),
      );
      const st = await fsp.stat(disk('ss.txt'));
      expect(st.size).to.equal(3);
      expect(st.mode & 0o7777).to.equal(0o755);
      expect(Math.floor(st.mtimeMs / 1000)).to.equal(3000000);
      await expectFailure(
        call((cb) => sftp.setstat('/nope.txt', { mode: 0o600 }, cb)),
        Status.NO_SUCH_FILE,
      );
    });

    it('lstat shows a symlink, stat what it points to', async function () {
      await fsp.writeFile(disk('lt-target.txt'), 'twelve bytes');
      await fsp.symlink('lt-target.txt', disk('lt-link'));
      const l = await call<Stats>((cb) => sftp.lstat('/lt-link', cb));
      const s = await call<Stats>((cb) => sftp.stat('/lt-link', cb));
      expect(l.isSymbolicLink()).to.equal(true);
      expect(s.isFile()).to.equal(true);
      expect(s.size).to.equal(12);
    });
  });

  describe('directories', function () {
    it('lists a directory of 250 entries once each, with . and ..', async function () {
      await fsp.mkdir(disk('many'));
      const names = Array.from({ length: 250 }, (_, i) => `entry-${String(i).padStart(3, '0')}`);
      for (const n of names) await fsp.writeFile(path.join(disk('many'), n), n);
      const h = handleOf(await raw.request(PacketType.OPENDIR, (w) => w.string('/many')));
      const seen: string[] = [];
      const longnames = new Map<string, string>();
      for (;;) {
        const r = await raw.request(PacketType.READDIR, (w) => w.string(h));
        if (r.type === PacketType.STATUS) {
          expect(statusOf(r).code).to.equal(Status.EOF);
          break;
        }
        for (const e of namesOf(r)) {
          seen.push(e.filename);
          longnames.set(e.filename, e.longname);
        }
      }
      await raw.close(h);
      expect(seen).to.have.length(252);
      expect([...seen].sort()).to.deep.equal(['.', '..', ...names].sort());
      // The server's own long name: mode, links, owner, group, size, date, name.
      expect(longnames.get('entry-007')).to.match(
        /^-rw-r--r-- +1 zhangsan +zhangsan +9 \w{3} [ \d]\d ( \d{4}|\d\d:\d\d) entry-007$/,
      );
      const viaSsh2 = await call<Array<{ filename: string }>>((cb) => sftp.readdir('/many', cb));
      expect(viaSsh2.map((e) => e.filename).sort()).to.deep.equal(names);
    });

    it('mkdir, rmdir; an existing or non-empty directory fails', async function () {
      await call((cb) => sftp.mkdir('/md', { mode: 0o750 }, cb));
      expect((await fsp.stat(disk('md'))).mode & 0o777).to.equal(0o750);
      await expectFailure(
        call((cb) => sftp.mkdir('/md', cb)),
        Status.FAILURE,
      );
      await fsp.writeFile(path.join(disk('md'), 'f'), 'x');
      await expectFailure(
        call((cb) => sftp.rmdir('/md', cb)),
        Status.FAILURE,
      );
      await fsp.unlink(path.join(disk('md'), 'f'));
      await call((cb) => sftp.rmdir('/md', cb));
      expect(await exists(disk('md'))).to.equal(false);
      await expectFailure(
        call((cb) => sftp.rmdir('/md', cb)),
        Status.NO_SUCH_FILE,
      );
      await expectFailure(
        call((cb) => sftp.mkdir('/no/such/parent', cb)),
        Status.NO_SUCH_FILE,
      );
    });

    it('remove deletes files only', async function () {
      await fsp.writeFile(disk('rm.txt'), 'x');
      await call((cb) => sftp.unlink('/rm.txt', cb));
      expect(await exists(disk('rm.txt'))).to.equal(false);
      await expectFailure(
        call((cb) => sftp.unlink('/rm.txt', cb)),
        Status.NO_SUCH_FILE,
      );
      await fsp.mkdir(disk('rmdir-me'));
      await expectFailure(
        call((cb) => sftp.unlink('/rmdir-me', cb)),
        Status.FAILURE,
      );
      expect(await exists(disk('rmdir-me'))).to.equal(true);
    });
  });

  describe('paths and links', function () {
    it('realpath of ".", "..", "/a/../b" and through a symlinked directory', async function () {
      await fsp.mkdir(disk('realdir/sub'), { recursive: true });
      await fsp.symlink('realdir', disk('linkdir'));
      const rp = (p: string): Promise<string> => call<string>((cb) => sftp.realpath(p, cb));
      expect(await rp('.')).to.equal('/');
      expect(await rp('..')).to.equal('/');
      expect(await rp('/a/../b')).to.equal('/b');
      expect(await rp('linkdir')).to.equal('/realdir');
      expect(await rp('/linkdir/sub/..')).to.equal('/realdir');
      expect(await rp('/linkdir/sub')).to.equal('/realdir/sub');
    });

    it('RENAME moves, but fails onto an existing name', async function () {
      await fsp.writeFile(disk('ren-a'), 'a');
      await fsp.writeFile(disk('ren-b'), 'b');
      await expectFailure(
        call((cb) => sftp.rename('/ren-a', '/ren-b', cb)),
        Status.FAILURE,
      );
      expect(await fsp.readFile(disk('ren-b'), 'utf8')).to.equal('b');
      await call((cb) => sftp.rename('/ren-a', '/ren-c', cb));
      expect(await fsp.readFile(disk('ren-c'), 'utf8')).to.equal('a');
      await expectFailure(
        call((cb) => sftp.rename('/ren-a', '/ren-d', cb)),
        Status.NO_SUCH_FILE,
      );
    });

    it('symlink(target, linkpath) creates linkpath pointing at target; readlink reads it', async function () {
      await fsp.writeFile(disk('sl-target.txt'), 'linked');
      // ssh2 sends draft-02 order (link path first) to servers that are not OpenSSH.
      await call((cb) => sftp.symlink('sl-target.txt', '/sl-link', cb));
      expect((await fsp.lstat(disk('sl-link'))).isSymbolicLink()).to.equal(true);
      expect(await fsp.readlink(disk('sl-link'))).to.equal('sl-target.txt');
      expect((await fsp.lstat(disk('sl-target.txt'))).isFile()).to.equal(true);
      expect(await call<string>((cb) => sftp.readlink('/sl-link', cb))).to.equal('sl-target.txt');
      await expectFailure(
        call<string>((cb) => sftp.readlink('/sl-target.txt', cb)),
        Status.FAILURE,
      );
    });

    it('raw SYMLINK in OpenSSH order from clients that always send it', async function () {
      await fsp.writeFile(disk('os-target.txt'), 'x');
      // paramiko sends target first whatever the server is.
      const other = await connectClient(server.port, {
        user: 'zhangsan',
        password: '123',
        ident: 'paramiko_3.4.0',
      });
      try {
        const r = await RawSftp.open(other);
        expectOk(
          await r.request(PacketType.SYMLINK, (w) => w.string('os-target.txt').string('/os-link')),
        );
        await r.end();
      } finally {
        await endClient(other);
      }
      expect(await fsp.readlink(disk('os-link'))).to.equal('os-target.txt');
      expect((await fsp.lstat(disk('os-target.txt'))).isFile()).to.equal(true);
    });
  });

  describe('extensions through ssh2', function () {
    it('posix-rename overwrites', async function () {
      await fsp.writeFile(disk('pr-a'), 'a');
      await fsp.writeFile(disk('pr-b'), 'b');
      await call((cb) => sftp.ext_openssh_rename('/pr-a', '/pr-b', cb));
      expect(await fsp.readFile(disk('pr-b'), 'utf8')).to.equal('a');
      expect(await exists(disk('pr-a'))).to.equal(false);
    });

    it('statvfs and fstatvfs show the 1 GiB quota', async function () {
      // ssh2 names the fields after struct statvfs.
      interface Vfs {
        f_bsize: number;
        f_frsize: number;
        f_blocks: number;
        f_bfree: number;
        f_bavail: number;
      }
      const v = await call<Vfs>((cb) => sftp.ext_openssh_statvfs('/', cb));
      expect(v.f_frsize * v.f_blocks).to.be.within(1024 ** 3, 1024 ** 3 + v.f_frsize);
      const used = (await server.quota.get('zhangsan')).bytes;
      expect((v.f_blocks - v.f_bavail) * v.f_frsize).to.be.within(
        used - v.f_frsize,
        used + v.f_frsize,
      );
      await fsp.writeFile(disk('fv.txt'), 'x');
      const h = await call<Buffer>((cb) => sftp.open('/fv.txt', R, cb));
      const f = await call<Vfs>((cb) => sftp.ext_openssh_fstatvfs(h, cb));
      await call((cb) => sftp.close(h, cb));
      expect(f.f_blocks).to.equal(v.f_blocks);
    });

    it('hardlink, fsync, lsetstat', async function () {
      await fsp.writeFile(disk('hl-a'), 'hard');
      await call((cb) => sftp.ext_openssh_hardlink('/hl-a', '/hl-b', cb));
      const a = await fsp.stat(disk('hl-a'));
      const b = await fsp.stat(disk('hl-b'));
      expect(b.ino).to.equal(a.ino);
      expect(a.nlink).to.equal(2);
      await expectFailure(
        call((cb) => sftp.ext_openssh_hardlink('/hl-a', '/hl-b', cb)),
        Status.FAILURE,
      );

      const h = await call<Buffer>((cb) => sftp.open('/hl-a', W, cb));
      await call((cb) => sftp.ext_openssh_fsync(h, cb));
      await call((cb) => sftp.close(h, cb));

      await fsp.symlink('hl-a', disk('ls-link'));
      await call((cb) =>
        sftp.ext_openssh_lsetstat('/ls-link', { atime: 4000000, mtime: 4000000 }, cb),
      );
      expect(Math.floor((await fsp.lstat(disk('ls-link'))).mtimeMs / 1000)).to.equal(4000000);
      expect(Math.floor((await fsp.stat(disk('hl-a'))).mtimeMs / 1000)).to.not.equal(4000000);
    });
  });

  describe('raw protocol', function () {
    it('offsets and sizes past 2^53 get EOF or FAILURE, and the session goes on', async function () {
      await fsp.writeFile(disk('huge-offsets.txt'), 'small');
      const h = handleOf(
        await raw.request(PacketType.OPEN, (w) =>
          w.string('/huge-offsets.txt').u32(OpenFlag.READ).attrs({}),
        ),
      );
      const far = await raw.request(PacketType.READ, (w) =>
        w
          .string(h)
          .u64(2 ** 60)
          .u32(10),
      );
      expect(statusOf(far).code).to.equal(Status.EOF);
      const grow = await raw.request(PacketType.SETSTAT, (w) =>
        w.string('/huge-offsets.txt').attrs({ size: 2 ** 62 }),
      );
      const grown = statusOf(grow);
      expect(grown.code).to.equal(Status.FAILURE);
      expect(grown.message).to.equal('64-bit value too large (at most 2^53 - 1)');
      expect((await raw.read(h, 0, 10))?.toString()).to.equal('small');
      await raw.close(h);
    });

    it('runs pipelined requests that depend on each other as if one at a time', async function () {
      // lftp's mkdir -p and mirror -R send these without waiting for the replies.
      const mkdirs = ['/pipe', '/pipe/a', '/pipe/a/b', '/pipe/a/b/c'].map((p) =>
        raw.request(PacketType.MKDIR, (w) => w.string(p).attrs({})),
      );
      const open = raw.request(PacketType.OPEN, (w) =>
        w
          .string('/pipe/a/b/c/f.txt')
          .u32(OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC)
          .attrs({}),
      );
      for (const m of mkdirs) expectOk(await m);
      const handle = handleOf(await open);
      // WRITEs, then a SETSTAT of the times, a RENAME and a STAT of the new
      // name, all before any reply: the times must be the last word, and the
      // STAT must see the rename.
      const writes = [0, 1, 2].map((i) =>
        raw.request(PacketType.WRITE, (w) =>
          w
            .string(handle)
            .u64(i * 65536)
            .bytes(Buffer.alloc(65536, i + 1)),
        ),
      );
      const setstat = raw.request(PacketType.SETSTAT, (w) =>
        w.string('/pipe/a/b/c/f.txt').attrs({ atime: 3000000, mtime: 3000000 }),
      );
      const close = raw.request(PacketType.CLOSE, (w) => w.string(handle));
      const rename = raw.request(PacketType.RENAME, (w) =>
        w.string('/pipe/a/b/c/f.txt').string('/pipe/g.txt'),
      );
      const stat = raw.request(PacketType.STAT, (w) => w.string('/pipe/g.txt'));
      for (const r of [...writes, setstat, close, rename]) expectOk(await r);
      const st = await stat;
      expect(st.type).to.equal(PacketType.ATTRS);
      expect(st.reader.attrs()).to.include({ size: 3 * 65536, mtime: 3000000 });
      const onDisk = await fsp.stat(disk('pipe/g.txt'));
      expect(Math.floor(onDisk.mtimeMs / 1000)).to.equal(3000000);
      // And the other way round: removals, deepest first, then the top.
      const removals = [
        raw.request(PacketType.REMOVE, (w) => w.string('/pipe/g.txt')),
        ...['/pipe/a/b/c', '/pipe/a/b', '/pipe/a', '/pipe'].map((p) =>
          raw.request(PacketType.RMDIR, (w) => w.string(p)),
        ),
      ];
      for (const r of removals) expectOk(await r);
      expect(await fsp.stat(disk('pipe')).catch(() => undefined)).to.equal(undefined);
    });

    it('VERSION is 3 and advertises every standard extension', async function () {
      expect(raw.version).to.equal(3);
      const standard = registerStandardExtensions(new ExtensionRegistry()).advertised();
      expect(standard.length).to.be.above(8);
      for (const [name, data] of standard) expect(raw.extensions.get(name), name).to.equal(data);
      const known = new Set<string>(Object.values(Ext));
      for (const name of raw.extensions.keys()) expect(known.has(name), name).to.equal(true);
    });

    it('limits@openssh.com', async function () {
      const r = extendedOf(await raw.extended(Ext.LIMITS));
      expect([r.u64(), r.u64(), r.u64(), r.u64()]).to.deep.equal([263168, 262144, 262144, 256]);
    });

    it('statvfs@openssh.com numbers', async function () {
      const r = extendedOf(await raw.extended(Ext.STATVFS, (w) => w.string('/')));
      const [bsize, frsize, blocks, bfree, bavail] = [r.u64(), r.u64(), r.u64(), r.u64(), r.u64()];
      const [files, ffree, favail, fsid, flag, namemax] = [
        r.u64(),
        r.u64(),
        r.u64(),
        r.u64(),
        r.u64(),
        r.u64(),
      ];
      expect(bsize).to.be.above(0);
      expect(frsize * blocks).to.be.within(1024 ** 3, 1024 ** 3 + frsize);
      expect(bavail).to.equal(bfree);
      const free = 1024 ** 3 - (await server.quota.get('zhangsan')).bytes;
      expect(bavail * frsize).to.be.within(free - frsize, free);
      expect(files).to.be.at.least(ffree);
      expect(favail).to.equal(ffree);
      expect(fsid).to.be.a('number');
      expect(flag & 0x2).to.equal(0x2); // ST_NOSUID
      expect(namemax).to.equal(255);
    });

    it('home-directory and users-groups-by-id', async function () {
      for (const who of ['', 'zhangsan']) {
        const names = namesOf(await raw.extended(Ext.HOME_DIRECTORY, (w) => w.string(who)));
        expect(names.map((n) => n.filename)).to.deep.equal(['/']);
      }
      const other = statusOf(await raw.extended(Ext.HOME_DIRECTORY, (w) => w.string('root')));
      expect(other.code).to.equal(Status.NO_SUCH_FILE);

      const ids = Buffer.alloc(8);
      ids.writeUInt32BE(1000, 0);
      ids.writeUInt32BE(0, 4);
      const r = extendedOf(
        await raw.extended(Ext.USERS_GROUPS_BY_ID, (w) => w.bytes(ids).bytes(ids.subarray(0, 4))),
      );
      const userList = r.bytes();
      const groupList = r.bytes();
      const readNames = (b: Buffer): string[] => {
        const out: string[] = [];
        for (let i = 0; i < b.length;) {
          const len = b.readUInt32BE(i);
          out.push(b.subarray(i + 4, i + 4 + len).toString());
          i += 4 + len;
        }
        return out;
      };
      expect(readNames(userList)).to.deep.equal(['zhangsan', 'zhangsan']);
      expect(readNames(groupList)).to.deep.equal(['zhangsan']);
    });

    it('expand-path@openssh.com', async function () {
      // ssh2 1.17's ext_openssh_expandPath writes a malformed packet (the path
      // lands 3 bytes early), so this goes through the raw channel.
      const ep = async (p: string): Promise<string | undefined> =>
        namesOf(await raw.extended(Ext.EXPAND_PATH, (w) => w.string(p)))[0]?.filename;
      expect(await ep('~')).to.equal('/');
      expect(await ep('~/x')).to.equal('/x');
      // As OpenSSH (realpath(3)): a missing directory on the way is NO_SUCH_FILE.
      const missing = statusOf(await raw.extended(Ext.EXPAND_PATH, (w) => w.string('~/x/y')));
      expect(missing.code).to.equal(Status.NO_SUCH_FILE);
      expect(await ep('~zhangsan/x')).to.equal('/x');
      expect(await ep('x/../y')).to.equal('/y');
      const other = statusOf(await raw.extended(Ext.EXPAND_PATH, (w) => w.string('~root/x')));
      expect(other.code).to.equal(Status.NO_SUCH_FILE);
    });

    it('lsetstat@openssh.com changes the link, not its target', async function () {
      await fsp.writeFile(disk('rl-target'), 'x');
      await fsp.symlink('rl-target', disk('rl-link'));
      expectOk(
        await raw.extended(Ext.LSETSTAT, (w) =>
          w.string('/rl-link').attrs({ atime: 5000000, mtime: 5000000 }),
        ),
      );
      expect(Math.floor((await fsp.lstat(disk('rl-link'))).mtimeMs / 1000)).to.equal(5000000);
      expect(Math.floor((await fsp.stat(disk('rl-target'))).mtimeMs / 1000)).to.not.equal(5000000);
    });

    it('copy-data copies a range and is held to the quota', async function () {
      const content = randomBytes(1024 * 1024);
      await fsp.writeFile(disk('cd-src'), content);
      const src = await raw.open('/cd-src', R);
      const dst = await raw.open('/cd-dst', W | CREAT | TRUNC);
      const copy = (
        from: number,
        length: number,
        to: number,
      ): Promise<ReturnType<typeof statusOf>> =>
        raw
          .extended(Ext.COPY_DATA, (w) => w.string(src).u64(from).u64(length).string(dst).u64(to))
          .then(statusOf);
      expect((await copy(0, 0, 0)).code).to.equal(Status.OK);
      expect((await copy(100, 1000, 2 * 1024 * 1024)).code).to.equal(Status.OK);
      await raw.close(dst);
      const out = await fsp.readFile(disk('cd-dst'));
      expect(out.length).to.equal(2 * 1024 * 1024 + 1000);
      expect(sha256(out.subarray(0, content.length))).to.equal(sha256(content));
      expect(out.subarray(2 * 1024 * 1024).equals(content.subarray(100, 1100))).to.equal(true);

      const usage = await server.quota.get('zhangsan');
      const before = usage.bytes;
      await server.store.users.setQuota('zhangsan', before + 64 * 1024);
      await server.quota.refreshLimits('zhangsan');
      try {
        const dst2 = await raw.open('/cd-over', W | CREAT | TRUNC);
        const over = await raw
          .extended(Ext.COPY_DATA, (w) => w.string(src).u64(0).u64(0).string(dst2).u64(0))
          .then(statusOf);
        await raw.close(dst2);
        expect(over.code).to.equal(Status.FAILURE);
        expect(over.message).to.match(/quota/);
        expect(usage.bytes).to.be.at.most(before + 64 * 1024);
        expect((await fsp.stat(disk('cd-over'))).size).to.be.at.most(64 * 1024);
      } finally {
        await server.store.users.setQuota('zhangsan', 1024 ** 3);
        await server.quota.refreshLimits('zhangsan');
        await raw.close(src);
      }
    });

    it('unknown extensions and packet types get OP_UNSUPPORTED', async function () {
      expect(statusOf(await raw.extended('no-such@example.com')).code).to.equal(
        Status.OP_UNSUPPORTED,
      );
      expect(statusOf(await raw.request(99, (w) => w.string('junk'))).code).to.equal(
        Status.OP_UNSUPPORTED,
      );
      // The session still works afterwards.
      expect(
        namesOf(await raw.request(PacketType.REALPATH, (w) => w.string('.')))[0]?.filename,
      ).to.equal('/');
    });

    it('caps open handles at 256 per session', async function () {
      await fsp.writeFile(disk('hcap'), 'x');
      const own = await RawSftp.open(client);
      try {
        const handles = await Promise.all(Array.from({ length: 256 }, () => own.open('/hcap', R)));
        expect(new Set(handles).size).to.equal(256);
        let err: unknown;
        await own.open('/hcap', R).catch((e: unknown) => (err = e));
        expect(err).to.be.instanceOf(SftpStatusError);
        expect((err as SftpStatusError).code).to.equal(Status.FAILURE);
        await Promise.all(handles.map((h) => own.close(h)));
        await own.close(await own.open('/hcap', R));
      } finally {
        await own.end();
      }
    });

    it('answers 64 concurrent writes and reads once each', async function () {
      const chunk = 32 * 1024;
      const data = randomBytes(64 * chunk);
      const h = await raw.open('/conc.bin', R | W | CREAT | TRUNC);
      // Highest offsets first, so the writes complete out of order.
      await Promise.all(
        Array.from({ length: 64 }, (_, i) => 63 - i).map((i) =>
          raw.write(h, i * chunk, data.subarray(i * chunk, (i + 1) * chunk)),
        ),
      );
      const parts = await Promise.all(
        Array.from({ length: 64 }, (_, i) => raw.read(h, i * chunk, chunk)),
      );
      await raw.close(h);
      expect(raw.inFlight).to.equal(0);
      expect(raw.strayReplies).to.have.length(0);
      expect(sha256(Buffer.concat(parts.map((p) => p ?? Buffer.alloc(0))))).to.equal(sha256(data));
      expect(await sha256File(disk('conc.bin'))).to.equal(sha256(data));
    });
  });

  describe('several SFTP channels on one connection', function () {
    it('transfers a few MiB on each channel at once, byte-exact', async function () {
      const n = 3;
      const size = 3 * 1024 * 1024;
      const files = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const f = path.join(local, `par-${i}.bin`);
          await writeRandomFile(f, size + i * 4099);
          return { file: f, sha: await sha256File(f) };
        }),
      );
      await fsp.writeFile(disk('down.bin'), randomBytes(size));
      const downSha = await sha256File(disk('down.bin'));
      const channels = await Promise.all(Array.from({ length: n }, () => openSftp(client)));
      try {
        await Promise.all(
          channels.map(async (ch, i) => {
            const f = files[i] as { file: string; sha: string };
            await Promise.all([
              call((cb) => ch.fastPut(f.file, `/par-${i}.bin`, cb)),
              call((cb) => ch.fastGet('/down.bin', path.join(local, `down-${i}.bin`), cb)),
            ]);
          }),
        );
      } finally {
        for (const ch of channels) ch.end();
      }
      for (let i = 0; i < n; i++) {
        expect(await sha256File(disk(`par-${i}.bin`))).to.equal(files[i]?.sha);
        expect(await sha256File(path.join(local, `down-${i}.bin`))).to.equal(downSha);
      }
    });
  });
});

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}
