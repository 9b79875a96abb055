/**
 * Escapes from the home: "..", absolute paths, "//", NUL bytes, symlinks made
 * through SFTP and symlinks planted on disk, symlinked parent directories,
 * and rename/hardlink/copy-data across the boundary. Each must fail (or be
 * neutralised) without touching a canary directory next to the data dir, and
 * no error message may reveal where the data lives.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import type { Client } from 'ssh2';
import { Ext, OpenFlag, PacketType, Status } from '../../src/sftp/constants';
import type { PacketWriter } from '../../src/sftp/codec';
import { startTestServer, type TestServer } from '../helpers/server';
import { connectClient, endClient } from '../helpers/ssh-client';
import { RawSftp, handleOf, namesOf, statusOf } from '../helpers/raw-sftp';
import { snapshotTree } from '../helpers/files';

const R = OpenFlag.READ;
const W = OpenFlag.WRITE;
const CREAT = OpenFlag.CREAT;
const TRUNC = OpenFlag.TRUNC;
const REFUSED = [Status.PERMISSION_DENIED, Status.NO_SUCH_FILE];

describe('jail', function () {
  let server: TestServer;
  let client: Client;
  let raw: RawSftp;
  let home: string;
  let canary: string;
  /** The canary's path as seen from the home: "../../../miniftp-test-canary-…". */
  let canaryFromHome: string;
  let canaryBefore: Record<string, string>;
  const messages: string[] = [];

  const disk = (p: string): string => path.join(home, p);

  before(async function () {
    server = await startTestServer();
    home = await fsp.realpath(server.home('zhangsan'));
    canary = await fsp.realpath(
      await fsp.mkdtemp(path.join(path.dirname(server.dataDir), 'miniftp-test-canary-')),
    );
    canaryFromHome = path.relative(home, canary);
    await fsp.writeFile(path.join(canary, 'secret.txt'), 'do not read');
    await fsp.mkdir(path.join(canary, 'sub'));
    await fsp.writeFile(path.join(canary, 'sub', 'inner.txt'), 'inner');
    canaryBefore = await canarySnapshot();
    // Links planted on disk (by an admin, or left by a restore) that point outside.
    await fsp.symlink(path.join(canary, 'secret.txt'), disk('abs-file-link'));
    await fsp.symlink(path.join(canaryFromHome, 'secret.txt'), disk('rel-file-link'));
    await fsp.symlink(canary, disk('dir-link'));
    await fsp.mkdir(disk('inside'));
    await fsp.writeFile(disk('inside/mine.txt'), 'mine');
    client = await connectClient(server.port, { user: 'zhangsan', password: '123' });
    raw = await RawSftp.open(client);
  });

  after(async function () {
    if (raw) await raw.end();
    if (client) await endClient(client);
    await server?.stop();
    if (canary) await fsp.rm(canary, { recursive: true, force: true });
  });

  async function canarySnapshot(): Promise<Record<string, string>> {
    const snap = await snapshotTree(canary);
    const st = await fsp.stat(canary);
    return { ...snap, '.': `${st.mtimeMs}:${st.mode}` };
  }

  /** Expects the request to fail with PERMISSION_DENIED or NO_SUCH_FILE. */
  async function refused(
    what: string,
    type: number,
    build: (w: PacketWriter) => void,
    codes: number[] = REFUSED,
  ): Promise<void> {
    const r = await raw.request(type, build);
    expect(r.type, `${what}: expected a STATUS reply`).to.equal(PacketType.STATUS);
    const s = statusOf(r);
    messages.push(s.message);
    expect(codes, `${what}: got status ${s.code} (${s.message})`).to.include(s.code);
  }

  const stat = (p: string) => (w: PacketWriter) => w.string(p);
  const open = (p: string, flags: number) => (w: PacketWriter) => w.string(p).u32(flags).u32(0);

  async function realpath(p: string): Promise<string> {
    const names = namesOf(await raw.request(PacketType.REALPATH, (w) => w.string(p)));
    return names[0]?.filename ?? '';
  }

  it('".." never climbs above the home', async function () {
    await refused('stat /../../etc/passwd', PacketType.STAT, stat('/../../etc/passwd'));
    await refused('open ../../etc/passwd', PacketType.OPEN, open('../../etc/passwd', R));
    await refused(
      'read the canary by ..',
      PacketType.OPEN,
      open(`${canaryFromHome}/secret.txt`, R),
    );
    const top = handleOf(await raw.request(PacketType.OPENDIR, stat('../../..')));
    const listed = namesOf(await raw.request(PacketType.READDIR, stat(top))).map((n) => n.filename);
    await raw.close(top);
    expect(listed).to.include('inside');
    expect(await realpath('/../../..')).to.equal('/');
    expect(await realpath('../x')).to.equal('/x');
    // A write to "../x" lands in the home, as it would under chroot.
    const h = handleOf(
      await raw.request(PacketType.OPEN, open('../escape.txt', W | CREAT | TRUNC)),
    );
    await raw.write(h, 0, Buffer.from('x'));
    await raw.close(h);
    expect(await fsp.readFile(disk('escape.txt'), 'utf8')).to.equal('x');
    await refused('mkdir via ..', PacketType.MKDIR, (w) =>
      w.string(`${canaryFromHome}/made`).u32(0),
    );
  });

  it('absolute and "//" paths are virtual', async function () {
    await refused('stat /etc/passwd', PacketType.STAT, stat('/etc/passwd'));
    await refused('stat the data dir', PacketType.STAT, stat(server.dataDir));
    await refused('stat the canary', PacketType.STAT, stat(canary));
    await refused('open //etc//passwd', PacketType.OPEN, open('//etc//passwd', R));
    await refused('opendir //canary', PacketType.OPENDIR, stat(`//${canary}`));
    await refused('remove //..//..', PacketType.REMOVE, stat('//..//..//'), [
      Status.PERMISSION_DENIED,
    ]);
    expect(await realpath('//')).to.equal('/');
    expect(await realpath('//inside//mine.txt')).to.equal('/inside/mine.txt');
  });

  it('a NUL byte in a path is refused', async function () {
    const nul = (p: string) => (w: PacketWriter) => w.bytes(Buffer.from(p, 'latin1'));
    await refused('stat with NUL', PacketType.STAT, nul('inside/mine.txt\0/../../..'));
    await refused('open with NUL', PacketType.OPEN, (w) =>
      w
        .bytes(Buffer.from(`x\0${canaryFromHome}/secret.txt`, 'latin1'))
        .u32(W | CREAT)
        .u32(0),
    );
    await refused('mkdir with NUL', PacketType.MKDIR, (w) => nul('nul\0dir')(w).u32(0));
    await refused('symlink target with NUL', PacketType.SYMLINK, (w) =>
      // This connection is ssh2's: link path first (see client-quirks.ts).
      w.string('/nul-link').bytes(Buffer.from('/etc\0', 'latin1')),
    );
    expect((await fsp.readdir(home)).some((n) => n.startsWith('nul') || n === 'x')).to.equal(false);
  });

  it('symlinks made through SFTP cannot point outside', async function () {
    // ssh2 connection: link path first.
    const symlink = (link: string, target: string) => (w: PacketWriter) =>
      w.string(link).string(target);
    // An absolute target is taken inside the home: it names the home's /etc.
    const made = await raw.request(PacketType.SYMLINK, symlink('/etc-link', '/etc'));
    expect(statusOf(made).code).to.equal(Status.OK);
    await refused('stat through /etc-link', PacketType.STAT, stat('/etc-link/passwd'));
    await refused('opendir /etc-link', PacketType.OPENDIR, stat('/etc-link'));
    expect(path.resolve(home, await fsp.readlink(disk('etc-link')))).to.equal(disk('etc'));

    await refused('symlink ../../..', PacketType.SYMLINK, symlink('/up-link', '../../..'));
    await refused(
      'symlink from a subdirectory',
      PacketType.SYMLINK,
      symlink('/inside/up', '../..'),
    );
    await refused(
      'symlink to the canary',
      PacketType.SYMLINK,
      symlink('/c-link', `${canaryFromHome}/secret.txt`),
    );
    for (const n of ['up-link', 'inside/up', 'c-link'])
      expect(await exists(disk(n)), n).to.equal(false);

    // Inside targets are fine, relative or absolute, also from a subdirectory.
    expect(
      statusOf(await raw.request(PacketType.SYMLINK, symlink('/inside/ok', '../inside/mine.txt')))
        .code,
    ).to.equal(Status.OK);
    expect(
      statusOf(await raw.request(PacketType.SYMLINK, symlink('/inside/ok2', '/inside/mine.txt')))
        .code,
    ).to.equal(Status.OK);
    const h = handleOf(await raw.request(PacketType.OPEN, open('/inside/ok2', R)));
    expect((await raw.read(h, 0, 100))?.toString()).to.equal('mine');
    await raw.close(h);
  });

  it('a symlink through a symlinked directory is made relative to where it really lands', async function () {
    await fsp.mkdir(disk('deep/a/b'), { recursive: true });
    await fsp.symlink('deep/a/b', disk('shortcut'));
    const made = await raw.request(PacketType.SYMLINK, (w) =>
      w.string('/shortcut/to-mine').string('/inside/mine.txt'),
    );
    expect(statusOf(made).code).to.equal(Status.OK);
    // The kernel follows the stored link to the same file the server does.
    expect(await fsp.readFile(disk('shortcut/to-mine'), 'utf8')).to.equal('mine');
    const h = handleOf(await raw.request(PacketType.OPEN, open('/shortcut/to-mine', R)));
    expect((await raw.read(h, 0, 100))?.toString()).to.equal('mine');
    await raw.close(h);
    // "x/.." through a link that points shallower would climb out once the kernel follows it.
    await fsp.symlink('..', disk('deep/a/up'));
    await refused('symlink via a shallower link', PacketType.SYMLINK, (w) =>
      w.string('/l-sneaky').string('deep/a/up/../../..'),
    );
  });

  it('a link made through SFTP never leads out, however it or its directory is moved', async function () {
    const ok = async (type: number, build: (w: PacketWriter) => void): Promise<void> => {
      const st = statusOf(await raw.request(type, build));
      expect(st.code, st.message).to.equal(Status.OK);
    };
    const mkdir = (p: string) => (w: PacketWriter) => w.string(p).u32(0);
    for (const d of ['/q1', '/q1/q2', '/q1/q2/q3']) await ok(PacketType.MKDIR, mkdir(d));
    // Inside when made; stored relative it would climb out of the home once moved up.
    await ok(PacketType.SYMLINK, (w) =>
      w.string('/q1/q2/q3/esc').string('../../../inside/mine.txt'),
    );
    await ok(PacketType.SYMLINK, (w) => w.string('/q1/q2/q3/down').string('x/y'));
    expect(await fsp.readlink(disk('q1/q2/q3/esc'))).to.equal(disk('inside/mine.txt'));
    expect(await fsp.readlink(disk('q1/q2/q3/down'))).to.equal('x/y');
    const readlink = async (p: string): Promise<string | undefined> =>
      namesOf(await raw.request(PacketType.READLINK, stat(p)))[0]?.filename;
    expect(await readlink('/q1/q2/q3/esc')).to.equal('/inside/mine.txt');
    // Its size is what READLINK shows, not the stored absolute path (which names the data dir).
    const l = await raw.request(PacketType.LSTAT, stat('/q1/q2/q3/esc'));
    expect(l.reader.attrs().size).to.equal('/inside/mine.txt'.length);
    expect(await readlink('/q1/q2/q3/down')).to.equal('x/y');

    await ok(PacketType.RENAME, (w) => w.string('/q1/q2/q3/esc').string('/esc'));
    await ok(PacketType.EXTENDED, (w) =>
      w.string(Ext.HARDLINK).string('/esc').string('/q1/esc-hl'),
    );
    await ok(PacketType.RENAME, (w) => w.string('/q1/q2').string('/q2-moved'));
    for (const link of ['/esc', '/q1/esc-hl']) {
      expect(path.resolve(path.dirname(disk(link)), await fsp.readlink(disk(link)))).to.equal(
        disk('inside/mine.txt'),
      );
      const h = handleOf(await raw.request(PacketType.OPEN, open(link, R)));
      expect((await raw.read(h, 0, 100))?.toString()).to.equal('mine');
      await raw.close(h);
    }

    // A climbing link planted on disk (inside when planted) cannot be moved to where it leads out.
    await fsp.mkdir(disk('planted/x'), { recursive: true });
    await fsp.symlink('../../inside/mine.txt', disk('planted/x/climb'));
    await refused('rename a climbing link up', PacketType.RENAME, (w) =>
      w.string('/planted/x/climb').string('/climb'),
    );
    await refused('hardlink a climbing link up', PacketType.EXTENDED, (w) =>
      w.string(Ext.HARDLINK).string('/planted/x/climb').string('/climb-hl'),
    );
    await ok(PacketType.RENAME, (w) => w.string('/planted/x/climb').string('/planted/x/same'));
    expect(await exists(disk('climb'))).to.equal(false);
    expect(await exists(disk('climb-hl'))).to.equal(false);

    // READLINK of links in a loop answers what is stored.
    await ok(PacketType.SYMLINK, (w) => w.string('/la').string('lb'));
    await ok(PacketType.SYMLINK, (w) => w.string('/lb').string('la'));
    expect(await readlink('/la')).to.equal('lb');
  });

  it('a usage scan settles climbing links planted on disk, so renaming folders cannot turn them out', async function () {
    await fsp.mkdir(disk('old/p/q'), { recursive: true });
    await fsp.symlink('../../../inside/mine.txt', disk('old/p/q/climb'));
    await fsp.symlink('down/below', disk('old/p/q/down'));
    await server.quota.rescan('zhangsan');
    expect(await fsp.readlink(disk('old/p/q/climb'))).to.equal(disk('inside/mine.txt'));
    expect(await fsp.readlink(disk('old/p/q/down'))).to.equal('down/below');
    const moved = await raw.request(PacketType.RENAME, (w) => w.string('/old/p/q').string('/q-up'));
    expect(statusOf(moved).code).to.equal(Status.OK);
    const h = handleOf(await raw.request(PacketType.OPEN, open('/q-up/climb', R)));
    expect((await raw.read(h, 0, 100))?.toString()).to.equal('mine');
    await raw.close(h);
  });

  it('links planted on disk pointing outside give no access', async function () {
    for (const link of ['/abs-file-link', '/rel-file-link']) {
      await refused(`stat ${link}`, PacketType.STAT, stat(link));
      await refused(`open ${link} for reading`, PacketType.OPEN, open(link, R));
      await refused(`open ${link} for writing`, PacketType.OPEN, open(link, W | CREAT | TRUNC));
      await refused(`setstat ${link}`, PacketType.SETSTAT, (w) =>
        w.string(link).attrs({ permissions: 0o777 }),
      );
      await refused(`readlink ${link}`, PacketType.READLINK, stat(link));
      await refused(`statvfs ${link}`, PacketType.EXTENDED, (w) =>
        w.string(Ext.STATVFS).string(link),
      );
      // REALPATH answers without revealing the target.
      expect(await realpath(link)).to.equal(link);
    }
    await refused('opendir /dir-link', PacketType.OPENDIR, stat('/dir-link'));
    await refused('stat /dir-link/secret.txt', PacketType.STAT, stat('/dir-link/secret.txt'));
    await refused('lstat /dir-link/secret.txt', PacketType.LSTAT, stat('/dir-link/secret.txt'));
    await refused('open /dir-link/secret.txt', PacketType.OPEN, open('/dir-link/secret.txt', R));
    await refused('create in /dir-link', PacketType.OPEN, open('/dir-link/new.txt', W | CREAT));
    await refused('mkdir in /dir-link', PacketType.MKDIR, (w) => w.string('/dir-link/new').u32(0));
    await refused('rmdir in /dir-link', PacketType.RMDIR, stat('/dir-link/sub'));
    await refused('remove in /dir-link', PacketType.REMOVE, stat('/dir-link/secret.txt'));
    await refused('remove in /dir-link/sub', PacketType.REMOVE, stat('/dir-link/sub/inner.txt'));
    await refused('readlink /dir-link', PacketType.READLINK, stat('/dir-link'));
    await refused('symlink in /dir-link', PacketType.SYMLINK, (w) =>
      w.string('/dir-link/l').string('x'),
    );
    expect(await realpath('/dir-link')).to.equal('/dir-link');
    expect(await realpath('/dir-link/sub')).to.equal('/dir-link/sub');
    // lstat of the link itself is fine: it is in the home.
    const l = await raw.request(PacketType.LSTAT, stat('/dir-link'));
    expect(l.type).to.equal(PacketType.ATTRS);
  });

  it('rename, hardlink and copy-data cannot cross the boundary', async function () {
    await fsp.writeFile(disk('mover.txt'), 'move me');
    await refused('rename into /dir-link', PacketType.RENAME, (w) =>
      w.string('/mover.txt').string('/dir-link/moved.txt'),
    );
    await refused('rename out of /dir-link', PacketType.RENAME, (w) =>
      w.string('/dir-link/secret.txt').string('/stolen.txt'),
    );
    await refused('posix-rename over the canary', PacketType.EXTENDED, (w) =>
      w.string(Ext.POSIX_RENAME).string('/mover.txt').string('/dir-link/secret.txt'),
    );
    await refused('rename by ..', PacketType.RENAME, (w) =>
      w.string('/mover.txt').string(`${canaryFromHome}/moved.txt`),
    );
    await refused('hardlink into /dir-link', PacketType.EXTENDED, (w) =>
      w.string(Ext.HARDLINK).string('/mover.txt').string('/dir-link/hl.txt'),
    );
    await refused('hardlink out of /dir-link', PacketType.EXTENDED, (w) =>
      w.string(Ext.HARDLINK).string('/dir-link/secret.txt').string('/hl.txt'),
    );
    // A hard link to the planted symlink is just another name for that symlink.
    const hl = await raw.request(PacketType.EXTENDED, (w) =>
      w.string(Ext.HARDLINK).string('/abs-file-link').string('/hl-of-link'),
    );
    if (statusOf(hl).code === Status.OK) {
      await refused('open the hard link of the symlink', PacketType.OPEN, open('/hl-of-link', R));
    }
    expect(await exists(disk('stolen.txt'))).to.equal(false);
    expect(await exists(disk('hl.txt'))).to.equal(false);
    expect(await fsp.readFile(disk('mover.txt'), 'utf8')).to.equal('move me');

    // copy-data needs two handles, and neither can be opened outside.
    const src = handleOf(await raw.request(PacketType.OPEN, open('/mover.txt', R)));
    await refused(
      'copy-data target outside',
      PacketType.OPEN,
      open('/dir-link/copy.txt', W | CREAT),
    );
    await refused(
      'copy-data with a made-up handle',
      PacketType.EXTENDED,
      (w) => w.string(Ext.COPY_DATA).string(src).u64(0).u64(0).string('999').u64(0),
      [Status.FAILURE],
    );
    await raw.close(src);
  });

  it('the home\'s ".." entry is the home itself', async function () {
    const h = handleOf(await raw.request(PacketType.OPENDIR, stat('/')));
    const names = namesOf(await raw.request(PacketType.READDIR, stat(h)));
    await raw.close(h);
    const dot = names.find((n) => n.filename === '.');
    const dotdot = names.find((n) => n.filename === '..');
    expect(dotdot?.attrs).to.deep.equal(dot?.attrs);
  });

  it('touched nothing outside, and no message revealed a real path', async function () {
    expect(await canarySnapshot()).to.deep.equal(canaryBefore);
    expect(messages.length).to.be.above(30);
    const secrets = [
      server.dataDir,
      home,
      canary,
      os.tmpdir(),
      path.basename(canary),
      'docs/zhangsan',
    ];
    for (const m of messages) for (const s of secrets) expect(m, m).to.not.include(s);
  });
});

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}
