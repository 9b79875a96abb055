/**
 * Paths, links and the jail under attack by one ordinary account: paths too
 * deep or too long are refused (and cannot be built), deep lookups do not
 * hold up other users, racing renames cannot turn a checked directory into a
 * way out (from SFTP or from a local process), a moved directory cannot
 * re-aim a climbing link inside it, and REALPATH answers NO_SUCH_FILE for a
 * missing parent as OpenSSH does.
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import SftpClient from 'ssh2-sftp-client';
import type { Client } from 'ssh2';
import { hashPassword } from '../../src/auth/passwords';
import type { PacketWriter } from '../../src/sftp/codec';
import { Ext, OpenFlag, PacketType, Status } from '../../src/sftp/constants';
import { MAX_DEPTH } from '../../src/vfs/jail';
import { heldNameLocks } from '../../src/vfs/name-lock';
import { snapshotTree } from '../helpers/files';
import { RawSftp, expectOk, statusOf, type Reply } from '../helpers/raw-sftp';
import { startTestServer, type TestServer } from '../helpers/server';
import { call, connectClient, endClient, expectFailure, openSftp } from '../helpers/ssh-client';

const ZHANGSAN = { user: 'zhangsan', password: '123' };
const LISI = { user: 'lisi', password: '456' };

const mkdirOf =
  (p: string) =>
  (w: PacketWriter): void => {
    w.string(p).u32(0);
  };

function status(r: Reply): { code: number; message: string } {
  return statusOf(r);
}

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}

describe('hardening: paths, links and the jail', function () {
  let server: TestServer;
  let client: Client;
  let raw: RawSftp;
  let home: string;
  /** A directory next to the data dir: nothing in it may change. */
  let outside: string;
  let outsideBefore: Record<string, string>;
  const messages: string[] = [];

  const disk = (p: string): string => path.join(home, p);

  before(async function () {
    server = await startTestServer();
    await server.store.users.create({
      name: LISI.user,
      passwordHash: await hashPassword(LISI.password, {
        memoryKiB: 1024,
        timeCost: 1,
        parallelism: 1,
      }),
      quotaBytes: 0,
      quotaFiles: 0,
      isAdmin: false,
    });
    home = await fsp.realpath(server.home('zhangsan'));
    outside = await fsp.realpath(
      await fsp.mkdtemp(path.join(path.dirname(server.dataDir), 'miniftp-test-outside-')),
    );
    await fsp.writeFile(path.join(outside, 'secret.txt'), 'do not touch');
    outsideBefore = await snapshotTree(outside);
    client = await connectClient(server.port, ZHANGSAN);
    raw = await RawSftp.open(client);
  });

  after(async function () {
    if (raw) await raw.end();
    if (client) await endClient(client);
    await server?.stop();
    if (outside) await fsp.rm(outside, { recursive: true, force: true });
  });

  /** The path of `depth` directories "d" below the root. */
  const deepPath = (depth: number): string => '/d'.repeat(depth);

  it('refuses names over 255 bytes, paths over 4096 bytes and more than 128 levels: MKDIR cannot build deeper', async function () {
    // Pipelined, as `mkdir -p` in lftp sends them: each waits for the one before.
    const made = [];
    for (let i = 1; i <= MAX_DEPTH; i++) {
      made.push(raw.request(PacketType.MKDIR, mkdirOf(deepPath(i))));
    }
    for (const r of await Promise.all(made)) expectOk(r);
    expect(await exists(disk(deepPath(MAX_DEPTH)))).to.equal(true);

    const tooDeep = status(await raw.request(PacketType.MKDIR, mkdirOf(deepPath(MAX_DEPTH + 1))));
    messages.push(tooDeep.message);
    expect(tooDeep.code).to.equal(Status.FAILURE);
    expect(tooDeep.message).to.match(/too deep/);
    expect(await exists(disk(deepPath(MAX_DEPTH + 1)))).to.equal(false);
    // Other requests on such a path get the same answer.
    const stat = status(
      await raw.request(PacketType.STAT, (w) => w.string(deepPath(MAX_DEPTH + 1))),
    );
    expect(stat.message).to.match(/too deep/);

    expectOk(await raw.request(PacketType.MKDIR, mkdirOf(`/${'n'.repeat(255)}`)));
    const longName = status(await raw.request(PacketType.MKDIR, mkdirOf(`/${'n'.repeat(256)}`)));
    messages.push(longName.message);
    expect(longName.code).to.equal(Status.FAILURE);
    expect(longName.message).to.match(/file name too long/);
    const longPath = `/${`${'p'.repeat(200)}/`.repeat(21)}`;
    const tooLong = status(await raw.request(PacketType.MKDIR, mkdirOf(longPath)));
    messages.push(tooLong.message);
    expect(tooLong.message).to.match(/path too long/);

    // Neither by moving the deepest tree further down…
    expectOk(await raw.request(PacketType.MKDIR, mkdirOf('/down')));
    const moved = status(
      await raw.request(PacketType.RENAME, (w) => w.string('/d').string('/down/d')),
    );
    messages.push(moved.message);
    expect(moved.code).to.equal(Status.FAILURE);
    expect(moved.message).to.match(/deeper than 128/);
    expect(await exists(disk('down/d'))).to.equal(false);
    // …nor through a symlink to the deepest directory.
    expectOk(
      // ssh2's clients send the link path first (see client-quirks.ts).
      await raw.request(PacketType.SYMLINK, (w) =>
        w.string('/to-deepest').string(deepPath(MAX_DEPTH)),
      ),
    );
    const viaLink = status(await raw.request(PacketType.MKDIR, mkdirOf('/to-deepest/x')));
    messages.push(viaLink.message);
    expect(viaLink.message).to.match(/too deep/);
    expect(await exists(disk(`${deepPath(MAX_DEPTH)}/x`))).to.equal(false);
  });

  it('another user logs in and lists while one pipelines deep STATs over 4 channels', async function () {
    // Bounded by this timeout only: nothing here measures speed.
    this.timeout(20000);
    // A tree far deeper than the limit, left on disk (say, by a restore): its
    // paths are refused at once instead of being walked.
    let planted = disk('planted');
    for (let i = 0; i < 1900; i++) planted += '/p';
    await fsp.mkdir(planted, { recursive: true });
    const channels = await Promise.all([0, 1, 2, 3].map(() => RawSftp.open(client)));
    const allowed = deepPath(MAX_DEPTH);
    const tooDeep = `/planted${'/p'.repeat(1900)}`;
    const stats: Array<Promise<Reply>> = [];
    for (const ch of channels) {
      for (let i = 0; i < 128; i++) {
        stats.push(ch.request(PacketType.STAT, (w) => w.string(i % 2 === 0 ? allowed : tooDeep)));
      }
    }
    // Meanwhile another user logs in and lists their home.
    const other = await connectClient(server.port, LISI);
    try {
      const sftp = await openSftp(other);
      const list = await call<unknown[]>((cb) => sftp.readdir('/', cb));
      expect(list).to.be.an('array');
    } finally {
      await endClient(other);
    }
    const replies = await Promise.all(stats);
    replies.forEach((r, i) => {
      if (i % 2 === 0) expect(r.type).to.equal(PacketType.ATTRS);
      else expect(status(r).message).to.match(/too deep/);
    });
    await Promise.all(channels.map((ch) => ch.end()));
  });

  /**
   * Swaps `/d-race` (a directory) for `/out` (a symlink to the outside
   * directory) and back, `rounds` times, through `swap`; meanwhile sends
   * requests that create, link or remove names in `/d-race` on another
   * connection of the same user. Returns how many of those succeeded.
   */
  async function raceAgainst(swap: () => Promise<void>, rounds: number): Promise<number> {
    const attacker = await connectClient(server.port, ZHANGSAN);
    const b = await RawSftp.open(attacker);
    try {
      const requests: Array<Promise<Reply>> = [];
      const handles: Array<Promise<Reply>> = [];
      for (let i = 0; i < rounds; i++) {
        requests.push(
          // A target that takes a while to check: the widest window for a swap.
          b.request(PacketType.SYMLINK, (w) =>
            w.string(`/d-race/s${i}`).string('sub/../sub/../sub/../sub/../t'),
          ),
          b.request(PacketType.MKDIR, mkdirOf(`/d-race/m${i}`)),
          b.extended(Ext.HARDLINK, (w) => w.string('/f').string(`/d-race/h${i}`)),
          b.request(PacketType.REMOVE, (w) => w.string(`/d-race/v${i}`)),
          b.extended(Ext.POSIX_RENAME, (w) => w.string(`/r${i}`).string(`/d-race/r${i}`)),
        );
        const open = b.request(PacketType.OPEN, (w) =>
          w
            .string(`/d-race/o${i}`)
            .u32(OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.EXCL)
            .u32(0),
        );
        handles.push(open);
      }
      const [, replies, opened] = await Promise.all([
        swap(),
        Promise.all(requests),
        Promise.all(handles),
      ]);
      for (const r of opened) {
        if (r.type === PacketType.HANDLE) {
          const h = r.reader.string();
          expectOk(await b.request(PacketType.CLOSE, (w) => w.string(h)));
        }
      }
      return [...replies, ...opened].filter(
        (r) => r.type === PacketType.HANDLE || status(r).code === Status.OK,
      ).length;
    } finally {
      await b.end();
      await endClient(attacker);
    }
  }

  async function raceSetup(rounds: number): Promise<void> {
    await fsp.rm(disk('d-race'), { recursive: true, force: true });
    await fsp.rm(disk('d-race.real'), { recursive: true, force: true });
    await fsp.rm(disk('out'), { force: true });
    await fsp.mkdir(disk('d-race/sub'), { recursive: true });
    await fsp.writeFile(disk('f'), 'linked');
    for (let i = 0; i < rounds; i++) {
      await fsp.writeFile(disk(`d-race/v${i}`), 'mine');
      await fsp.writeFile(disk(`r${i}`), 'moved');
      await fsp.writeFile(path.join(outside, `v${i}`), 'theirs');
    }
    // Planted on disk: a link that leads out of the home.
    await fsp.symlink(outside, disk('out'));
    outsideBefore = await snapshotTree(outside);
  }

  it('racing renames over SFTP never let a name be created or removed outside the home', async function () {
    this.timeout(30000);
    const rounds = 40;
    await raceSetup(rounds);
    const swapper = await RawSftp.open(client);
    const rename = (from: string, to: string): Promise<Reply> =>
      swapper.request(PacketType.RENAME, (w) => w.string(from).string(to));
    const swap = async (): Promise<void> => {
      const all: Array<Promise<Reply>> = [];
      for (let i = 0; i < rounds * 2; i++) {
        all.push(
          rename('/d-race', '/d-race.real'),
          rename('/out', '/d-race'),
          rename('/d-race', '/out'),
          rename('/d-race.real', '/d-race'),
        );
      }
      for (const r of await Promise.all(all)) expectOk(r);
    };
    const succeeded = await raceAgainst(swap, rounds);
    await swapper.end();
    expect(succeeded, 'some requests went through').to.be.greaterThan(0);
    expect(await snapshotTree(outside)).to.deep.equal(outsideBefore);
    expect(heldNameLocks()).to.equal(0);
  });

  it('a local process swapping a directory for a link meanwhile cannot make SFTP create or remove outside', async function () {
    this.timeout(30000);
    const rounds = 40;
    await raceSetup(rounds);
    // Renames as fast as a process can, until it is stopped.
    const script = [
      'import os, sys',
      'h = sys.argv[1]',
      'd, real, out = h + "/d-race", h + "/d-race.real", h + "/out"',
      'sys.stdout.write("ready\\n"); sys.stdout.flush()',
      'while True:',
      '    os.rename(d, real); os.rename(out, d); os.rename(d, out); os.rename(real, d)',
    ].join('\n');
    const swapper = spawn('/usr/bin/python3', ['-c', script, home], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const stopped = new Promise<void>((resolve) => swapper.once('exit', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        swapper.stdout.once('data', () => resolve());
        swapper.once('error', reject);
      });
      await raceAgainst(async () => undefined, rounds);
    } finally {
      swapper.kill('SIGKILL');
      await stopped;
    }
    expect(await snapshotTree(outside)).to.deep.equal(outsideBefore);
    expect(heldNameLocks()).to.equal(0);
  });

  it('refuses moving a directory whose climbing symlink would then lead outside, naming the link', async function () {
    await fsp.mkdir(disk('a/b/c/d'), { recursive: true });
    await fsp.writeFile(disk('target'), 'inside');
    // Planted on disk: inside the home as it stands.
    await fsp.symlink('../../../../target', disk('a/b/c/d/l'));
    expect(await fsp.readFile(disk('a/b/c/d/l'), 'utf8')).to.equal('inside');

    const refused = status(
      await raw.request(PacketType.RENAME, (w) => w.string('/a/b/c/d').string('/dd')),
    );
    messages.push(refused.message);
    expect(refused.code).to.equal(Status.PERMISSION_DENIED);
    expect(refused.message).to.include('/a/b/c/d/l');
    const posix = status(
      await raw.extended(Ext.POSIX_RENAME, (w) => w.string('/a/b/c').string('/cc')),
    );
    messages.push(posix.message);
    expect(posix.code).to.equal(Status.PERMISSION_DENIED);
    expect(posix.message).to.include('/a/b/c/d/l');
    expect(await exists(disk('dd'))).to.equal(false);
    expect(await exists(disk('cc'))).to.equal(false);
    expect(await fsp.readlink(disk('a/b/c/d/l'))).to.equal('../../../../target');

    // Moves that keep it inside are fine: sideways, and further down.
    expectOk(await raw.request(PacketType.RENAME, (w) => w.string('/a/b/c/d').string('/a/b/c/e')));
    expectOk(await raw.request(PacketType.MKDIR, mkdirOf('/z')));
    expectOk(await raw.request(PacketType.RENAME, (w) => w.string('/a').string('/z/a')));
    expect(await fsp.readlink(disk('z/a/b/c/e/l'))).to.equal('../../../../target');
  });

  it('REALPATH: NO_SUCH_FILE when a directory on the way is missing, the path when only the last name is', async function () {
    const sftp = await openSftp(client);
    await fsp.mkdir(disk('rp/sub'), { recursive: true });
    await fsp.writeFile(disk('rp/file'), 'x');
    await fsp.symlink('sub', disk('rp/link'));
    const realpath = (p: string): Promise<string> => call<string>((cb) => sftp.realpath(p, cb));
    expect(await realpath('/rp/sub')).to.equal('/rp/sub');
    expect(await realpath('/rp/missing')).to.equal('/rp/missing');
    expect(await realpath('/rp/link/new')).to.equal('/rp/sub/new');
    expect(await realpath('/rp/link')).to.equal('/rp/sub');
    await expectFailure(realpath('/rp/missing/x'), Status.NO_SUCH_FILE);
    await expectFailure(realpath('/rp/file/x'), Status.NO_SUCH_FILE);
    await expectFailure(realpath('/nowhere/a/b'), Status.NO_SUCH_FILE);
    // Deeper than the synchronous route: the same answers.
    const deep = '/d'.repeat(20);
    expect(await realpath(`${deep}/new`)).to.equal(`${deep}/new`);
    await expectFailure(realpath(`${deep}/missing/x`), Status.NO_SUCH_FILE);
    sftp.end();

    // ssh2-sftp-client's realPath answers '' for a path that does not exist.
    const c = new SftpClient();
    await c.connect({
      host: '127.0.0.1',
      port: server.port,
      username: 'zhangsan',
      password: '123',
    });
    try {
      expect(await c.realPath('/rp/missing/x')).to.equal('');
      expect(await c.realPath('/rp/missing')).to.equal('/rp/missing');
      expect(await c.exists('/rp/missing/x')).to.equal(false);
      expect(await c.exists('/rp/sub')).to.equal('d');
    } finally {
      await c.end();
    }
  });

  it('touched nothing outside, and no message revealed a real path', async function () {
    expect(await snapshotTree(outside)).to.deep.equal(outsideBefore);
    for (const m of messages) {
      expect(m).to.not.include(server.dataDir);
      expect(m).to.not.include(home);
    }
  });
});
