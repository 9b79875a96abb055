/**
 * A shared folder's quota is exact under concurrent writers: two users
 * uploading into one folder at once through ssh2 cannot together pass it,
 * and afterwards the folder's ledger equals a walk of its directory, also
 * after a rescan. check-file of a drop box reads only the user's own files.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import type { Client, SFTPWrapper } from 'ssh2';
import { folderSubject } from '../../src/quota/quota-ledger';
import { Ext, OpenFlag, PacketType, Status } from '../../src/sftp/constants';
import { sshExec } from '../helpers/openssh';
import { quotaUsage } from '../helpers/quota';
import { RawSftp, statusOf } from '../helpers/raw-sftp';
import { startTestServer, type TestServer } from '../helpers/server';
import { call, connectClient, endClient, openSftp, statusCode } from '../helpers/ssh-client';

const PW = 'pw-123';
const KiB = 1024;

async function admin(server: TestServer, line: string, input = ''): Promise<void> {
  const r = await sshExec(server.port, { user: 'admin', password: 'password' }, [line], input);
  expect(r.code, `admin '${line}':\n${r.stderr}${r.stdout}`).to.equal(0);
}

/** Writes `total` bytes to `remote` in 32 KiB WRITEs, all in flight at once; the status of the first failure, or OK. */
async function upload(sftp: SFTPWrapper, remote: string, total: number): Promise<number> {
  const handle = await call<Buffer>((cb) => sftp.open(remote, 'w', cb));
  const chunk = Buffer.alloc(32 * KiB, 7);
  const writes: Array<Promise<number>> = [];
  for (let off = 0; off < total; off += chunk.length) {
    writes.push(
      call((cb) => sftp.write(handle, chunk, 0, Math.min(chunk.length, total - off), off, cb)).then(
        () => Status.OK,
        (err: unknown) => statusCode(err) ?? -1,
      ),
    );
  }
  const results = await Promise.all(writes);
  await call((cb) => sftp.close(handle, cb));
  return results.find((s) => s !== Status.OK) ?? Status.OK;
}

describe('shared folders: a folder quota under concurrent writers', function () {
  this.timeout(60_000);
  let server: TestServer;
  const clients: Client[] = [];

  before(async function () {
    server = await startTestServer();
    for (const u of ['alice', 'bob'])
      await admin(server, `user add ${u} --password-stdin`, `${PW}\n`);
    await admin(server, 'group add team');
    await admin(server, 'group member add team alice bob');
    await admin(server, 'folder add shared --quota 1M');
    await admin(server, 'folder grant shared @team write');
    await admin(server, 'folder add drop');
    await admin(server, 'folder grant drop @team upload');
  });

  after(async function () {
    for (const c of clients) await endClient(c);
    await server?.stop();
  });

  it('two users together cannot pass the folder quota, and the ledger equals the disk', async function () {
    const sessions: SFTPWrapper[] = [];
    for (const u of ['alice', 'bob']) {
      const c = await connectClient(server.port, { user: u, password: PW });
      clients.push(c);
      sessions.push(await openSftp(c));
    }
    const [a, b] = sessions as [SFTPWrapper, SFTPWrapper];
    const results = await Promise.all([
      upload(a, '/shared/alice.bin', 640 * KiB),
      upload(b, '/shared/bob.bin', 640 * KiB),
    ]);
    // Not both fit: at least one is refused with FAILURE (the quota's status).
    expect(results.filter((s) => s === Status.FAILURE).length).to.be.at.least(1);
    const dir = await fsp.realpath(path.join(server.dataDir, 'docs', '.folders', 'shared'));
    const disk = await quotaUsage(dir);
    const folder = await server.quota.get(folderSubject('shared'));
    expect({ bytes: folder.bytes, files: folder.files }).to.deep.equal(disk);
    expect(disk.bytes).to.be.at.most(1024 * KiB);
    for (const u of ['alice', 'bob']) expect((await server.quota.get(u)).bytes, u).to.equal(0);
    // A rescan finds the same.
    expect(await server.quota.rescan(folderSubject('shared'))).to.deep.equal(disk);
  });

  it("check-file in a drop box hashes the user's own files only", async function () {
    const [a, b] = clients as [Client, Client];
    const ra = await RawSftp.open(a);
    const rb = await RawSftp.open(b);
    try {
      const h = await rb.open('/drop/bob.txt', OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC);
      await rb.write(h, 0, Buffer.from('bob'));
      await rb.close(h);
      const check = (raw: RawSftp, p: string) =>
        raw.request(PacketType.EXTENDED, (w) =>
          w.string(Ext.CHECK_FILE_NAME).string(p).string('md5').u64(0).u64(0).u32(0),
        );
      const mine = await check(rb, '/drop/bob.txt');
      expect(mine.type).to.equal(PacketType.EXTENDED_REPLY);
      const theirs = statusOf(await check(ra, '/drop/bob.txt'));
      expect(theirs.code).to.equal(Status.PERMISSION_DENIED);
      expect(theirs.message).to.match(/\/drop is upload-only for you/);
    } finally {
      await ra.end();
      await rb.end();
    }
  });
});
