/**
 * The terminal client after a lost connection, in batch mode against a real
 * server: a server restarted on the same port and data directory while an
 * upload runs (the client reconnects by itself and finishes the upload by the
 * MD5-prefix rule), and a kick, after which it does not reconnect by itself.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { sha256File, writeRandomFile } from '../helpers/files';
import { startClient, type StartedClient } from '../helpers/client-process';
import { waitUntil } from '../helpers/probe';
import { startTestServer, type TestServer } from '../helpers/server';

const MiB = 1024 * 1024;

describe('client reconnection (batch mode)', function () {
  this.timeout(60_000);
  let server: TestServer;
  let work: string;
  let local: string;
  let home: string;

  /** Starts a batch client; `out` grows as it prints. */
  const start = (commands: string[], args: string[] = []): StartedClient =>
    startClient(
      ['-b', '-', '--accept-new-host-key', ...args, `zhangsan@127.0.0.1:${server.port}`],
      { cwd: local, env: { HOME: home }, input: commands },
    );

  const remoteSize = (p: string): Promise<number> =>
    fsp.stat(path.join(server.home('zhangsan'), p)).then(
      (st) => st.size,
      () => 0,
    );

  beforeEach(async () => {
    server = await startTestServer();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-client-reconnect-'));
    local = path.join(work, 'local');
    home = path.join(work, 'home');
    await fsp.mkdir(local);
    await fsp.mkdir(home);
  });

  afterEach(async () => {
    await server.stop();
    await fsp.rm(work, { recursive: true, force: true });
  });

  it('finishes an upload after the server restarts on the same port, with no user action', async () => {
    const file = path.join(local, 'big.bin');
    await writeRandomFile(file, 6 * MiB);
    await fsp.writeFile(path.join(local, 'after.txt'), 'after\n');
    // 16 Mbit/s: the upload is still running when the server goes away.
    const client = start(['put big.bin', 'put after.txt', 'ls'], ['-l', '16000']);
    await waitUntil(
      'part of the upload on the server',
      async () => (await remoteSize('big.bin')) > MiB,
      20_000,
    );

    const { port, dataDir } = server;
    await server.close();
    server = await startTestServer({ dataDir, flags: ['--port', String(port)] });
    expect(server.port).to.equal(port);

    const r = await client.done;
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect(r.stdout).to.include('miniftp: disconnected: server shutting down; reconnecting');
    expect(r.stdout).to.include('reconnected');
    expect(r.stdout).to.match(/put big\.bin: resuming from \d+ bytes .*the start proven by MD5/);
    expect(r.stdout).to.match(
      /put big\.bin: done, sent \d+ bytes .*resumed from \d+.*MD5 verified/,
    );
    expect(r.stdout).to.include('put after.txt: done');
    expect(await sha256File(path.join(server.home('zhangsan'), 'big.bin'))).to.equal(
      await sha256File(file),
    );
  });

  it('does not reconnect by itself after a kick, shows why, and reconnects when told', async () => {
    const file = path.join(local, 'big.bin');
    await writeRandomFile(file, 6 * MiB);
    const client = start(['-put big.bin', '-pwd', 'reconnect', 'put big.bin'], ['-l', '16000']);
    await waitUntil(
      'part of the upload on the server',
      async () => (await remoteSize('big.bin')) > MiB,
      20_000,
    );
    server.connections.killUser('zhangsan', 'kicked by admin');

    const r = await client.done;
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect(r.stdout).to.include(
      'miniftp: disconnected: kicked by admin; not reconnecting by itself: type reconnect',
    );
    expect(r.stderr).to.include('put big.bin: failed: miniftp: disconnected: kicked by admin');
    expect(r.stderr).to.include('pwd: not connected (miniftp: disconnected: kicked by admin)');
    expect(r.stdout).to.include('miniftp> reconnect\nreconnecting…\nreconnected');
    expect(r.stdout).to.match(/put big\.bin: done, sent \d+ bytes .*resumed from \d+/);
    expect(await sha256File(path.join(server.home('zhangsan'), 'big.bin'))).to.equal(
      await sha256File(file),
    );
  });
});
