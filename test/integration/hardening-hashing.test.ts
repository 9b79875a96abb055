/**
 * Hashing a client asks for is bounded: files per md5sum command, hashes per
 * user at once; it stops when the client goes away (exec channel or SFTP
 * session), and one user hashing a lot does not hold up another user.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import type { Client, ClientChannel } from 'ssh2';
import { PacketType } from '../../src/sftp/constants';
import { RawSftp, extendedOf, type Reply } from '../helpers/raw-sftp';
import { connectClient, endClient, closedOf } from '../helpers/ssh-client';
import { haveOpenSsh, sshExec } from '../helpers/openssh';
import { waitForLog, waitUntil } from '../helpers/probe';
import { startTestServer, type TestServer } from '../helpers/server';

const ZS = { user: 'zhangsan', password: '123' };
const LISI = { user: 'lisi', password: 'lisi-pw' };
const GiB = 1024 ** 3;
/** Sparse: nothing on disk, minutes of hashing. */
const HUGE = 64 * GiB;
const MAX_JOBS = 4;

interface ExecRun {
  code: number | undefined;
  stdout: string;
  stderr: string;
}

/** Runs `command` over exec with ssh2; `started` resolves once the channel is open. */
function exec(
  client: Client,
  command: string,
): { started: Promise<ClientChannel>; done: Promise<ExecRun> } {
  let opened: (c: ClientChannel) => void = () => undefined;
  const started = new Promise<ClientChannel>((resolve) => (opened = resolve));
  const done = new Promise<ExecRun>((resolve, reject) => {
    client.exec(command, (err, channel) => {
      if (err) {
        reject(err);
        return;
      }
      opened(channel);
      let stdout = '';
      let stderr = '';
      channel.on('data', (d: Buffer) => (stdout += d.toString()));
      channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      channel.on('close', (code: number | undefined) => resolve({ code, stdout, stderr }));
      channel.end();
    });
  });
  return { started, done };
}

function checkFileName(raw: RawSftp, target: string, algorithm: string): Promise<Reply> {
  return raw.extended('check-file-name', (w) =>
    w.string(target).string(algorithm).u64(0).u64(0).u32(0),
  );
}

describe('hardening: hashing', function () {
  let server: TestServer;

  before(async function () {
    if (!(await haveOpenSsh())) this.skip();
    server = await startTestServer({
      flags: ['--log-level', 'debug', '--hashing-max-jobs-per-user', String(MAX_JOBS)],
    });
    const added = await sshExec(
      server.port,
      { user: 'admin', password: 'password' },
      ['user', 'add', 'lisi', '--password-stdin'],
      `${LISI.password}\n`,
    );
    expect(added.code, added.stderr).to.equal(0);
    const zs = server.home('zhangsan');
    await fsp.writeFile(path.join(zs, 's'), 'small');
    await fsp.writeFile(path.join(zs, 'huge.bin'), '');
    await fsp.truncate(path.join(zs, 'huge.bin'), HUGE);
    await fsp.mkdir(server.home('lisi'), { recursive: true });
    await fsp.writeFile(path.join(server.home('lisi'), 'mine.txt'), 'lisi was here\n');
  });

  after(async function () {
    await server?.stop();
  });

  afterEach(async function () {
    // Nothing a test started may still be hashing for the next one.
    if (server) await waitUntil('no hashing left', () => server.hashingStats().jobs === 0);
  });

  it('refuses an md5sum naming more files than allowed, as a usage error, hashing nothing', async function () {
    const many = await sshExec(server.port, ZS, ['md5sum', ...Array<string>(5000).fill('s')]);
    expect(many.code).to.equal(1);
    expect(many.stdout).to.equal('');
    expect(many.stderr).to.equal('md5sum: too many files: 5000 given, at most 100 per command\n');
    const line = `${createHash('md5').update('small').digest('hex')}  s\n`;
    const most = await sshExec(server.port, ZS, ['md5sum', ...Array<string>(100).fill('s')]);
    expect(most.code, most.stderr).to.equal(0);
    expect(most.stdout).to.equal(line.repeat(100));
  });

  it('stops hashing a big file over exec once the client disconnects', async function () {
    const client = await connectClient(server.port, ZS);
    const run = exec(client, 'md5sum huge.bin s');
    await run.started;
    await waitUntil('the hash to be running', () => server.hashingStats().running === 1);
    const gone = closedOf(client);
    client.destroy();
    await gone;
    await waitUntil('the hash to be dropped', () => server.hashingStats().jobs === 0);
    await waitForLog(server.dataDir, 'exec.hash_dropped', { user: 'zhangsan', command: 'md5sum' });
  });

  it('drops the pipelined check-file requests of a client that disconnects', async function () {
    const client = await connectClient(server.port, ZS);
    const raw = await RawSftp.open(client);
    // A session runs its check-file requests one after another: one hashes, the rest wait.
    for (let i = 0; i < 40; i++) void checkFileName(raw, '/huge.bin', 'sha512');
    await waitUntil('the first hash to run', () => server.hashingStats().running === 1);
    const gone = closedOf(client);
    client.destroy();
    await gone;
    await waitUntil('the hashes to be dropped', () => server.hashingStats().jobs === 0);
  });

  it("stops checking a resume's prefix once the client disconnects", async function () {
    const client = await connectClient(server.port, ZS);
    const raw = await RawSftp.open(client);
    // The MD5 of the first 60 GiB, on the hashing pool like any other hash.
    void raw.extended('resume-upload@miniftp', (w) =>
      w
        .string('/huge.bin')
        .u64(60 * GiB)
        .bytes(Buffer.alloc(16)),
    );
    await waitUntil('the prefix hash to run', () => server.hashingStats().running === 1);
    const gone = closedOf(client);
    client.destroy();
    await gone;
    await waitUntil('the prefix hash to be dropped', () => server.hashingStats().jobs === 0);
  });

  it("answers another user's STAT and checksums while one user hashes all it may", async function () {
    const heavy = await connectClient(server.port, ZS);
    // One hash per session (a session runs its check-file requests in turn), on one connection.
    const answers: Array<Promise<Reply>> = [];
    for (let i = 0; i < MAX_JOBS; i++) {
      answers.push(checkFileName(await RawSftp.open(heavy), '/huge.bin', 'sha512'));
    }
    await waitUntil(
      'the heavy hashes to be admitted',
      () => server.hashingStats().jobs === MAX_JOBS,
    );

    // The heavy user's next hash is refused with a reason, not queued without end.
    const refused = await exec(heavy, 'md5sum s').done;
    expect(refused.code).to.equal(1);
    expect(refused.stdout).to.equal('');
    expect(refused.stderr).to.equal(
      `md5sum: s: too many hashes at once (at most ${MAX_JOBS} per user); wait for one to finish\n`,
    );

    const light = await connectClient(server.port, LISI);
    try {
      const raw = await RawSftp.open(light);
      const st = await raw.request(PacketType.STAT, (w) => w.string('/mine.txt'));
      expect(st.type).to.equal(PacketType.ATTRS);
      const reply = extendedOf(await checkFileName(raw, '/mine.txt', 'md5'));
      expect(reply.string()).to.equal('md5');
      expect(reply.rest().toString('hex')).to.equal(
        createHash('md5').update('lisi was here\n').digest('hex'),
      );
      const sum = await exec(light, 'sha256sum mine.txt').done;
      expect(sum.code, sum.stderr).to.equal(0);
      expect(sum.stdout).to.equal(
        `${createHash('sha256').update('lisi was here\n').digest('hex')}  mine.txt\n`,
      );
      // Served while the heavy user's hashes were all still under way.
      expect(server.hashingStats().jobs).to.equal(MAX_JOBS);
      await raw.end();
    } finally {
      await endClient(light);
    }
    const gone = closedOf(heavy);
    heavy.destroy();
    await gone;
    void Promise.allSettled(answers);
  });
});
