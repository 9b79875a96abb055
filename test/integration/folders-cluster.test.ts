/**
 * Two servers sharing one PostgreSQL store: a grant given or revoked through
 * one server's console reaches the other's open sessions within a second or
 * so (each server reads the store's change counter once a second).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import type { SFTPWrapper } from 'ssh2';
import { sshExec } from '../helpers/openssh';
import { postgresDatabase } from '../helpers/postgres';
import { waitUntil } from '../helpers/probe';
import { startTestServer, type TestServer } from '../helpers/server';
import { call, connectClient, endClient, openSftp } from '../helpers/ssh-client';

const PW = 'pw-123';

async function admin(server: TestServer, line: string, input = ''): Promise<void> {
  const r = await sshExec(server.port, { user: 'admin', password: 'password' }, [line], input);
  expect(r.code, `admin '${line}':\n${r.stderr}${r.stdout}`).to.equal(0);
}

describe('shared folders across two servers on one PostgreSQL store', function () {
  this.timeout(60_000);
  let a: TestServer;
  let b: TestServer;

  before(async function () {
    const url = await postgresDatabase();
    a = await startTestServer({ flags: ['--store-url', url] });
    b = await startTestServer({ flags: ['--store-url', url] });
    await admin(a, 'user add alice --password-stdin', `${PW}\n`);
    await admin(a, 'folder add handouts');
  });

  after(async function () {
    await a?.stop();
    await b?.stop();
  });

  it("a grant and its revocation on one server reach the other's open session", async function () {
    const client = await connectClient(b.port, { user: 'alice', password: PW });
    try {
      const sftp: SFTPWrapper = await openSftp(client);
      const names = async (): Promise<string[]> =>
        (await call<Array<{ filename: string }>>((cb) => sftp.readdir('/', cb))).map(
          (e) => e.filename,
        );
      expect(await names()).to.not.include('handouts');
      await admin(a, 'folder grant handouts alice read');
      await waitUntil(
        'the grant on the other server',
        async () => (await names()).includes('handouts'),
        5000,
      );
      // The folder's directory was made on this server too.
      const dir = path.join(b.dataDir, 'docs', '.folders', 'handouts');
      expect((await fsp.stat(dir)).isDirectory()).to.equal(true);
      await admin(a, 'folder revoke handouts alice');
      await waitUntil(
        'the revocation on the other server',
        async () => !(await names()).includes('handouts'),
        5000,
      );
    } finally {
      await endClient(client);
    }
  });
});
