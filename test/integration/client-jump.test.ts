/**
 * `-J` (ProxyJump): the client logs in to a jump host, which forwards a TCP
 * channel to the MiniFTP server; both host keys go through known hosts. The
 * jump host here is a small ssh2 server that allows direct-tcpip only.
 */
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { Server, utils as sshUtils } from 'ssh2';
import { runBatch, type ClientOutcome } from '../helpers/client-process';
import { startTestServer, type TestServer } from '../helpers/server';

type Run = ClientOutcome;

describe('client through a jump host (-J)', function () {
  this.timeout(30_000);
  let server: TestServer;
  let jump: Server;
  let jumpPort: number;
  let work: string;
  const forwards: string[] = [];

  before(async () => {
    server = await startTestServer();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-client-jump-'));
    const key = sshUtils.generateKeyPairSync('ed25519');
    jump = new Server({ hostKeys: [key.private] }, (client) => {
      client.on('authentication', (ctx) => {
        if (ctx.method === 'password' && ctx.username === 'hop' && ctx.password === 'jumppw') {
          ctx.accept();
        } else ctx.reject(['password']);
      });
      client.on('tcpip', (accept, _reject, info) => {
        forwards.push(`${info.destIP}:${info.destPort}`);
        const channel = accept();
        const socket = net.connect(info.destPort, info.destIP);
        channel.pipe(socket).pipe(channel);
        socket.on('error', () => channel.close());
        channel.on('close', () => socket.destroy());
      });
      client.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => jump.listen(0, '127.0.0.1', resolve));
    jumpPort = (jump.address() as net.AddressInfo).port;
  });

  after(async () => {
    await new Promise<void>((resolve) => jump.close(() => resolve()));
    await server.stop();
    await fsp.rm(work, { recursive: true, force: true });
  });

  const run = (args: string[], commands: string[], env: NodeJS.ProcessEnv): Promise<Run> =>
    runBatch(args, commands, { cwd: work, env: { HOME: work, ...env } });

  it('logs in through the jump host, checking both host keys', async () => {
    await fsp.writeFile(path.join(work, 'via.txt'), 'via\n');
    const known = path.join(work, 'known_hosts');
    const args = [
      '--known-hosts',
      known,
      '--accept-new-host-key',
      '-J',
      `hop@127.0.0.1:${jumpPort}`,
      `zhangsan@127.0.0.1:${server.port}`,
    ];
    const r = await run(args, ['put via.txt', 'pwd'], { MINIFTP_JUMP_PASSWORD: 'jumppw' });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include('put via.txt: done');
    expect(forwards).to.deep.equal([`127.0.0.1:${server.port}`]);
    expect(await fsp.readFile(path.join(server.home('zhangsan'), 'via.txt'), 'utf8')).to.equal(
      'via\n',
    );
    const lines = (await fsp.readFile(known, 'utf8')).trim().split('\n');
    expect(lines.map((l) => l.split(' ')[0]).sort()).to.deep.equal(
      [`127.0.0.1:${jumpPort}`, `127.0.0.1:${server.port}`].sort(),
    );

    // A changed key of the jump host stops before anything reaches the target.
    const other = lines.find((l) => l.startsWith(`127.0.0.1:${server.port} `)) as string;
    const target = other.split(' ').slice(1).join(' ');
    await fsp.writeFile(known, `127.0.0.1:${jumpPort} ${target}\n${other}\n`);
    const refused = await run(args, ['pwd'], { MINIFTP_JUMP_PASSWORD: 'jumppw' });
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include(`THE HOST KEY OF 127.0.0.1:${jumpPort} HAS CHANGED`);
    expect(refused.stderr).to.include(`jump host 127.0.0.1:${jumpPort}:`);
    expect(forwards).to.have.length(1);

    const wrong = await run(['--known-hosts', path.join(work, 'kh2'), ...args.slice(2)], ['pwd'], {
      MINIFTP_JUMP_PASSWORD: 'nope',
    });
    expect(wrong.code).to.equal(1);
    expect(wrong.stderr).to.include(`jump host 127.0.0.1:${jumpPort}: authentication failed`);
  });
});
