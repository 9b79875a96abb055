/**
 * The jail holds through shared folders: the escapes of jail.test.ts and
 * hardening-paths.test.ts ("..", symlinks made and planted, rename, hard
 * link, copy-data) tried through a folder. Nothing may move between a home
 * and a folder, leave either, or reach a canary directory next to the data
 * directory; no message may name a real path.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import type { Client } from 'ssh2';
import { Ext, OpenFlag, PacketType, Status } from '../../src/sftp/constants';
import type { PacketWriter } from '../../src/sftp/codec';
import { folderSubject } from '../../src/quota/quota-ledger';
import { sshExec } from '../helpers/openssh';
import { startTestServer, type TestServer } from '../helpers/server';
import { connectClient, endClient } from '../helpers/ssh-client';
import { RawSftp, handleOf, namesOf, statusOf } from '../helpers/raw-sftp';
import { snapshotTree } from '../helpers/files';

const R = OpenFlag.READ;
const W = OpenFlag.WRITE;
const CREAT = OpenFlag.CREAT;
const TRUNC = OpenFlag.TRUNC;
const REFUSED = [Status.PERMISSION_DENIED, Status.NO_SUCH_FILE];
const PW = 'pw-123';

async function admin(server: TestServer, line: string, input = ''): Promise<void> {
  const run = await sshExec(server.port, { user: 'admin', password: 'password' }, [line], input);
  expect(run.code, `admin '${line}':\n${run.stderr}${run.stdout}`).to.equal(0);
}

describe('shared folders: the jail holds through a folder', function () {
  this.timeout(30_000);
  let server: TestServer;
  let client: Client;
  let raw: RawSftp;
  let folder: string;
  let home: string;
  let canary: string;
  let canaryBefore: Record<string, string>;
  const messages: string[] = [];

  before(async function () {
    server = await startTestServer();
    for (const u of ['alice', 'carol'])
      await admin(server, `user add ${u} --password-stdin`, `${PW}\n`);
    await admin(server, 'folder add proj --quota 10M');
    await admin(server, 'folder grant proj alice write');
    await admin(server, 'folder add docs --quota 10M');
    await admin(server, 'folder grant docs alice read');
    folder = await fsp.realpath(path.join(server.dataDir, 'docs', '.folders', 'proj'));
    home = await fsp.realpath(server.home('alice'));
    canary = await fsp.realpath(
      await fsp.mkdtemp(path.join(path.dirname(server.dataDir), 'miniftp-test-canary-')),
    );
    await fsp.writeFile(path.join(canary, 'secret.txt'), 'do not read');
    canaryBefore = await snapshotTree(canary);
    await fsp.writeFile(path.join(folder, 'a.txt'), 'in the folder');
    await fsp.writeFile(path.join(home, 'mine.txt'), 'in the home');
    await fsp.writeFile(
      path.join(server.dataDir, 'docs', '.folders', 'docs', 'doc.txt'),
      'read me',
    );
    // Planted on disk in the folder: links that lead out of it.
    await fsp.symlink(path.join(canary, 'secret.txt'), path.join(folder, 'abs-out'));
    await fsp.symlink(path.relative(folder, canary), path.join(folder, 'rel-out'));
    await fsp.symlink(path.join(home, 'mine.txt'), path.join(folder, 'into-home'));
    client = await connectClient(server.port, { user: 'alice', password: PW });
    raw = await RawSftp.open(client);
  });

  after(async function () {
    if (raw) await raw.end();
    if (client) await endClient(client);
    if (server) {
      expect(await snapshotTree(canary)).to.deep.equal(canaryBefore);
      for (const m of messages) {
        expect(m).to.not.include(server.dataDir);
        expect(m).to.not.include(canary);
      }
      await server.stop();
    }
    if (canary) await fsp.rm(canary, { recursive: true, force: true });
  });

  async function status(
    type: number,
    build: (w: PacketWriter) => void,
  ): Promise<{ code: number; message: string }> {
    const r = await raw.request(type, build);
    expect(r.type).to.equal(PacketType.STATUS);
    const s = statusOf(r);
    messages.push(s.message);
    return s;
  }

  async function refused(
    what: string,
    type: number,
    build: (w: PacketWriter) => void,
    text?: RegExp,
  ): Promise<void> {
    const s = await status(type, build);
    expect(REFUSED, `${what}: got ${s.code} (${s.message})`).to.include(s.code);
    if (text) expect(s.message, what).to.match(text);
  }

  const one = (p: string) => (w: PacketWriter) => w.string(p);
  const two = (a: string, b: string) => (w: PacketWriter) => w.string(a).string(b);
  const ext = (name: string, a: string, b: string) => (w: PacketWriter) =>
    w.string(name).string(a).string(b);
  const open = (p: string, flags: number) => (w: PacketWriter) => w.string(p).u32(flags).u32(0);

  it('".." never climbs out of the folder or the home', async function () {
    const rel = path.relative(folder, canary);
    await refused('stat ..', PacketType.STAT, one('/proj/../../etc/passwd'));
    await refused('open the canary by ..', PacketType.OPEN, open(`/proj/${rel}/secret.txt`, R));
    await refused('mkdir by ..', PacketType.MKDIR, (w) => w.string(`/proj/${rel}/made`).u32(0));
    const names = namesOf(await raw.request(PacketType.REALPATH, one('/proj/../../..')));
    expect(names[0]?.filename).to.equal('/');
    // "/proj/.." is the home: a file written there lands in the home, not next to the folder.
    const h = handleOf(
      await raw.request(PacketType.OPEN, open('/proj/../up.txt', W | CREAT | TRUNC)),
    );
    await raw.close(h);
    expect((await fsp.readdir(home)).includes('up.txt')).to.equal(true);
    expect((await fsp.readdir(path.dirname(folder))).sort()).to.deep.equal(['docs', 'proj']);
  });

  it('symlinks made in the folder cannot lead out of it, nor from the home into it', async function () {
    // ssh2's client: link path first.
    await refused(
      'link up and out',
      PacketType.SYMLINK,
      two('/proj/up', '../../..'),
      /cannot lead out/,
    );
    await refused(
      'link to a home path',
      PacketType.SYMLINK,
      two('/proj/h', '/mine.txt'),
      /cannot lead out/,
    );
    await refused(
      'link to the canary',
      PacketType.SYMLINK,
      two('/proj/c', `../${path.relative(path.dirname(folder), canary)}`),
    );
    await refused(
      'link from the home into it',
      PacketType.SYMLINK,
      two('/into', '/proj/a.txt'),
      /shared folder/,
    );
    await refused(
      'relative link from the home into it',
      PacketType.SYMLINK,
      two('/into', 'proj/a.txt'),
      /shared folder/,
    );
    for (const n of ['up', 'h', 'c']) {
      expect(await fsp.lstat(path.join(folder, n)).catch(() => undefined), n).to.equal(undefined);
    }
    // Inside the folder they are fine, absolute (the user's view) or relative.
    expect((await status(PacketType.SYMLINK, two('/proj/in', '/proj/a.txt'))).code).to.equal(
      Status.OK,
    );
    expect(await fsp.readlink(path.join(folder, 'in'))).to.equal('a.txt');
    const link = namesOf(await raw.request(PacketType.READLINK, one('/proj/in')));
    expect(link[0]?.filename).to.equal('a.txt');
    const h = handleOf(await raw.request(PacketType.OPEN, open('/proj/in', R)));
    expect((await raw.read(h, 0, 100))?.toString()).to.equal('in the folder');
    await raw.close(h);
  });

  it('symlinks planted in the folder that lead out are not followed', async function () {
    await refused('open abs-out', PacketType.OPEN, open('/proj/abs-out', R));
    await refused('opendir rel-out', PacketType.OPENDIR, one('/proj/rel-out'));
    await refused('open through rel-out', PacketType.OPEN, open('/proj/rel-out/secret.txt', R));
    await refused('write through abs-out', PacketType.OPEN, open('/proj/abs-out', W | TRUNC));
    await refused('open into-home', PacketType.OPEN, open('/proj/into-home', R));
    await refused('readlink abs-out', PacketType.READLINK, one('/proj/abs-out'));
  });

  it('rename and hard link never cross between the home and a folder', async function () {
    const between = /shared folder: files cannot be moved or linked between it and elsewhere/;
    await refused('rename out', PacketType.RENAME, two('/proj/a.txt', '/a.txt'), between);
    await refused('rename in', PacketType.RENAME, two('/mine.txt', '/proj/mine.txt'), between);
    await refused(
      'posix-rename out',
      PacketType.EXTENDED,
      ext(Ext.POSIX_RENAME, '/proj/a.txt', '/a.txt'),
      between,
    );
    await refused(
      'rename between folders',
      PacketType.RENAME,
      two('/docs/doc.txt', '/proj/doc.txt'),
      between,
    );
    await refused(
      'hardlink out',
      PacketType.EXTENDED,
      ext(Ext.HARDLINK, '/proj/a.txt', '/a-hl'),
      between,
    );
    await refused(
      'hardlink in',
      PacketType.EXTENDED,
      ext(Ext.HARDLINK, '/mine.txt', '/proj/m-hl'),
      between,
    );
    await refused(
      'rename the folder itself',
      PacketType.RENAME,
      two('/proj', '/p2'),
      /is a shared folder/,
    );
    await refused('remove the folder itself', PacketType.RMDIR, one('/proj'), /is a shared folder/);
    await refused(
      'hardlink a read-only file',
      PacketType.EXTENDED,
      ext(Ext.HARDLINK, '/docs/doc.txt', '/docs/x'),
      /read-only/,
    );
    expect(await fsp.readFile(path.join(folder, 'a.txt'), 'utf8')).to.equal('in the folder');
    expect(await fsp.readFile(path.join(home, 'mine.txt'), 'utf8')).to.equal('in the home');
    // Inside one tree a rename works, and the charge stays with the folder.
    expect((await status(PacketType.RENAME, two('/proj/a.txt', '/proj/b.txt'))).code).to.equal(
      Status.OK,
    );
    expect((await status(PacketType.RENAME, two('/proj/b.txt', '/proj/a.txt'))).code).to.equal(
      Status.OK,
    );
  });

  it('copy-data writes only where a handle could be opened, charged to where it lands', async function () {
    await refused(
      'write into a read-only folder',
      PacketType.OPEN,
      open('/docs/new.txt', W | CREAT),
      /read-only/,
    );
    const before = {
      user: (await server.quota.get('alice')).bytes,
      folder: (await server.quota.get(folderSubject('proj'))).bytes,
    };
    const src = handleOf(await raw.request(PacketType.OPEN, open('/mine.txt', R)));
    const dst = handleOf(
      await raw.request(PacketType.OPEN, open('/proj/copy.txt', W | CREAT | TRUNC)),
    );
    const s = await status(PacketType.EXTENDED, (w) =>
      w.string(Ext.COPY_DATA).string(src).u64(0).u64(0).string(dst).u64(0),
    );
    expect(s.code, s.message).to.equal(Status.OK);
    await raw.close(src);
    await raw.close(dst);
    expect(await fsp.readFile(path.join(folder, 'copy.txt'), 'utf8')).to.equal('in the home');
    expect((await server.quota.get('alice')).bytes).to.equal(before.user);
    expect((await server.quota.get(folderSubject('proj'))).bytes).to.equal(
      before.folder + 'in the home'.length,
    );
  });

  it('a user the folder is not granted to reaches nothing of it', async function () {
    const carol = await connectClient(server.port, { user: 'carol', password: PW });
    const craw = await RawSftp.open(carol);
    try {
      const r = await craw.request(PacketType.OPEN, open('/proj/a.txt', R));
      expect(statusOf(r).code).to.equal(Status.NO_SUCH_FILE);
      // Her own "/proj" is a directory of her home, nothing more.
      expect(
        statusOf(await craw.request(PacketType.MKDIR, (w) => w.string('/proj').u32(0))).code,
      ).to.equal(Status.OK);
      const h = handleOf(
        await craw.request(PacketType.OPEN, open('/proj/a.txt', W | CREAT | TRUNC)),
      );
      await craw.write(h, 0, Buffer.from('carol'));
      await craw.close(h);
      expect(await fsp.readFile(path.join(folder, 'a.txt'), 'utf8')).to.equal('in the folder');
      expect(await fsp.readFile(path.join(server.home('carol'), 'proj', 'a.txt'), 'utf8')).to.equal(
        'carol',
      );
    } finally {
      await craw.end();
      await endClient(carol);
    }
  });
});
