/**
 * Load: 50 ssh2 clients at once, each uploading and downloading its own
 * 8 MiB file with hash checks, while another loop keeps logging in. Every byte
 * must be right and every login succeed; the server (a child process, so its
 * memory is its own) must stay within a memory bound. Its peak RSS is
 * printed; no timing is asserted.
 */
import { readFileSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { sha256File, writeRandomFile } from '../helpers/files';
import { makeDataDir } from '../helpers/server';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';
import { call, connectClient, endClient, openSftp } from '../helpers/ssh-client';

const MiB = 1024 * 1024;
const CLIENTS = 50;
const SIZE = 8 * MiB;
/** Far above what 50 sessions need (each is bounded by its channel window and pending limits). */
const RSS_BOUND = 512 * MiB;

/** Resident set size of a process, from /proc (Linux). */
function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

describe('hardening: load', function () {
  this.timeout(120000);
  let dataDir: string;
  let localDir: string;
  let server: ServerProcess | undefined;

  before(async function () {
    dataDir = await makeDataDir();
    localDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-load-'));
    server = await startServerProcess(dataDir, [
      '--max-connections-per-ip',
      '200',
      '--max-unauthenticated',
      '100',
      // All clients log in at once from one address, which the defaults would thin out.
      '--max-unauthenticated-per-ip',
      '100',
      '--unauthenticated-drop-start',
      '100',
      '--max-sessions-per-user',
      '100',
      '--log-level',
      'warn',
    ]);
  });

  after(async function () {
    if (server) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await fsp.rm(dataDir, { recursive: true, force: true });
    await fsp.rm(localDir, { recursive: true, force: true });
  });

  it(`moves ${CLIENTS} × 8 MiB up and down at once, byte-exact, while logins go on`, async function () {
    const s = server as ServerProcess;
    const files = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const file = path.join(localDir, `up-${i}.bin`);
        await writeRandomFile(file, SIZE);
        return { i, file, digest: await sha256File(file) };
      }),
    );

    const baseline = rssOf(s.pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(s.pid))), 100);
    let done = false;
    let logins = 0;
    let loginFailure: unknown;
    const loginLoop = (async () => {
      while (!done) {
        const c = await connectClient(s.port, { user: 'zhangsan', password: '123' });
        const sftp = await openSftp(c);
        expect(await call<string>((cb) => sftp.realpath('.', cb))).to.equal('/');
        await endClient(c);
        logins++;
      }
    })().catch((err: unknown) => {
      loginFailure = err;
    });

    try {
      await Promise.all(
        files.map(async ({ i, file, digest }) => {
          const c = await connectClient(s.port, { user: 'zhangsan', password: '123' });
          try {
            const sftp = await openSftp(c);
            await call((cb) => sftp.fastPut(file, `/load-${i}.bin`, cb));
            const onServer = path.join(dataDir, 'docs', 'zhangsan', `load-${i}.bin`);
            expect(await sha256File(onServer), `upload ${i}`).to.equal(digest);
            const back = path.join(localDir, `down-${i}.bin`);
            await call((cb) => sftp.fastGet(`/load-${i}.bin`, back, cb));
            expect(await sha256File(back), `download ${i}`).to.equal(digest);
          } finally {
            await endClient(c);
          }
        }),
      );
    } finally {
      done = true;
      await loginLoop;
      clearInterval(sampler);
    }
    peak = Math.max(peak, rssOf(s.pid));
    console.log(
      `      server RSS: ${(baseline / MiB).toFixed(0)} MiB at rest, ` +
        `${(peak / MiB).toFixed(0)} MiB at peak; ${logins} logins alongside`,
    );
    if (loginFailure !== undefined) throw loginFailure;
    expect(logins).to.be.greaterThan(0);
    expect(peak).to.be.below(RSS_BOUND);
  });
});
