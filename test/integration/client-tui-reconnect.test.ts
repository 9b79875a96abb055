/**
 * The full screen after a lost connection, in a pseudo-terminal: a kick shows
 * the server's reason and DISCONNECTED, with no reconnection until the user
 * types `reconnect`; a server restart is repaired by itself.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { PtyTerminal } from '../helpers/pty-terminal';
import { waitUntil } from '../helpers/probe';
import { startTestServer, type TestServer } from '../helpers/server';

const BIN = path.resolve(__dirname, '../../../bin/miniftp.js');

describe('client full screen: lost connection', function () {
  this.timeout(60_000);
  let server: TestServer;
  let work: string;
  let term: PtyTerminal | undefined;

  const start = (): PtyTerminal => {
    term = new PtyTerminal(
      process.execPath,
      [BIN, '--accept-new-host-key', `zhangsan@127.0.0.1:${server.port}`],
      {
        cwd: work,
        env: {
          PATH: process.env.PATH,
          HOME: work,
          TERM: 'xterm-256color',
          MINIFTP_PASSWORD: '123',
        },
      },
    );
    return term;
  };

  before(async () => {
    server = await startTestServer();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-client-tui-reconnect-'));
    await fsp.writeFile(path.join(server.home('zhangsan'), 'there.txt'), 'x');
  });

  afterEach(() => {
    term?.dispose();
    term = undefined;
  });

  after(async () => {
    await server.stop();
    await fsp.rm(work, { recursive: true, force: true });
  });

  it('after a kick shows the reason and DISCONNECTED, and reconnects only when told', async () => {
    const t = start();
    await t.waitForText('there.txt');
    server.connections.killUser('zhangsan', 'kicked by admin');
    const screen = await t.waitForText('DISCONNECTED');
    expect(screen).to.include('kicked by admin');
    expect(screen.split('\n')[0]).to.include('DISCONNECTED');
    // The server forgets the kicked connection once its socket has closed, which may come
    // after the client has drawn DISCONNECTED.
    await waitUntil(
      'the server to forget the kicked connection',
      () => server.connections.countForUser('zhangsan') === 0,
    );
    expect(t.text().split('\n')[0]).to.not.include('RECONNECTING');

    t.write(':reconnect\r');
    await t.waitFor(
      'connected again',
      (s) => s.split('\n')[0]?.includes('connected') === true && !s.includes('DISCONNECTED'),
    );
    expect(server.connections.countForUser('zhangsan')).to.equal(1);
    t.write(':bye\r');
    expect((await t.exited).exitCode).to.equal(0);
  });

  it('after a server restart reconnects by itself', async () => {
    const t = start();
    await t.waitForText('there.txt');
    const { port, dataDir } = server;
    await server.close();
    await t.waitForText('server shutting down');
    server = await startTestServer({ dataDir, flags: ['--port', String(port)] });
    await t.waitForText('reconnected');
    await t.waitFor('the title', (s) => !s.split('\n')[0]?.includes('DISCONNECTED'));
    t.write(':bye\r');
    expect((await t.exited).exitCode).to.equal(0);
  });
});
