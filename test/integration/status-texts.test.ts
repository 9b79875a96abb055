/**
 * The words of each status reply: OpenSSH's exact texts for errors that come
 * from the filesystem (clients and scripts match on them), MiniFTP's own words
 * where they say more, and client-supplied names echoed back only clipped.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import type { Client, SFTPWrapper } from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import { OpenFlag, Status } from '../../src/sftp/constants';
import { startTestServer, type TestServer } from '../helpers/server';
import { call, connectClient, endClient, expectFailure, openSftp } from '../helpers/ssh-client';
import { RawSftp, statusOf } from '../helpers/raw-sftp';

describe('status texts', function () {
  let server: TestServer;
  let client: Client;
  let sftp: SFTPWrapper;
  let home: string;

  before(async function () {
    server = await startTestServer();
    home = server.home('zhangsan');
    client = await connectClient(server.port, { user: 'zhangsan', password: '123' });
    sftp = await openSftp(client);
    await fsp.mkdir(path.join(home, 'full'), { recursive: true });
    await fsp.writeFile(path.join(home, 'full', 'x.txt'), 'x');
  });

  after(async function () {
    if (client) await endClient(client);
    await server?.stop();
  });

  async function failureText(p: Promise<unknown>, code: number): Promise<string> {
    return (await expectFailure(p, code)).message;
  }

  it('answers a missing file with "No such file"', async function () {
    expect(
      await failureText(
        call((cb) => sftp.stat('/missing.txt', cb)),
        Status.NO_SUCH_FILE,
      ),
    ).to.equal('No such file');
    expect(
      await failureText(
        call((cb) => sftp.open('/no-dir/f.txt', 'r', cb)),
        Status.NO_SUCH_FILE,
      ),
    ).to.equal('No such file');
    expect(
      await failureText(
        call((cb) => sftp.unlink('/missing.txt', cb)),
        Status.NO_SUCH_FILE,
      ),
    ).to.equal('No such file');
  });

  it('answers a refused path with "Permission denied"', async function () {
    // A link on disk that leads out of the home, as a local account could plant.
    await fsp.symlink('/etc', path.join(home, 'out'));
    expect(
      await failureText(
        call((cb) => sftp.stat('/out/passwd', cb)),
        Status.PERMISSION_DENIED,
      ),
    ).to.equal('Permission denied');
  });

  it('answers other filesystem errors with "Failure"', async function () {
    expect(
      await failureText(
        call((cb) => sftp.mkdir('/full', cb)),
        Status.FAILURE,
      ),
    ).to.equal('Failure');
    expect(
      await failureText(
        call((cb) => sftp.rmdir('/full', cb)),
        Status.FAILURE,
      ),
    ).to.equal('Failure');
    const excl = OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.EXCL;
    expect(
      await failureText(
        call<Buffer>((cb) => sftp.open('/full/x.txt', excl, cb)),
        Status.FAILURE,
      ),
    ).to.equal('Failure');
  });

  it('gives ssh2-sftp-client the texts that code built on it tests for', async function () {
    const c = new SftpClient();
    await c.connect({
      host: '127.0.0.1',
      port: server.port,
      username: 'zhangsan',
      password: '123',
    });
    try {
      expect(await c.exists('/missing.txt')).to.equal(false);
      let caught: unknown;
      try {
        await c.get('/missing.txt');
      } catch (err) {
        caught = err;
      }
      expect(String((caught as Error).message)).to.include('No such file');
    } finally {
      await c.end();
    }
  });

  it('clips a long unknown extension name in its refusal', async function () {
    const raw = await RawSftp.open(client);
    try {
      const name = `x${'n'.repeat(100_000)}@example.com`;
      const st = statusOf(await raw.extended(name));
      expect(st.code).to.equal(Status.OP_UNSUPPORTED);
      expect(st.message.length).to.be.below(200);
      expect(st.message).to.match(/^unsupported extension xnnn.*…\[cut, 99949 more characters\]$/);
    } finally {
      await raw.end();
    }
  });
});
