/**
 * Open handles, descriptors and listings: directories are listed a batch at
 * a time with ".", ".." and every name once; open listings count against a
 * per-session and a server-wide memory budget; a user's handles against a
 * budget over all their sessions; all handles against the open-files limit
 * less a reserve, so that logins and other users go on when one user opens
 * all they may. Everything a handle holds is given back at CLOSE and when the
 * client goes away.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import type { Client } from 'ssh2';
import { OpenFlag, PacketType, Status } from '../../src/sftp/constants';
import { LISTING_BYTES_PER_HANDLE } from '../../src/sftp/handle-budget';
import { haveOpenSsh, sftpBatch, sshExec } from '../helpers/openssh';
import { logLines, waitForLog, waitUntil } from '../helpers/probe';
import { RawSftp, handleOf, namesOf, statusOf, type Reply } from '../helpers/raw-sftp';
import { makeDataDir, startTestServer, type TestServer } from '../helpers/server';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';
import { connectClient, endClient } from '../helpers/ssh-client';

const ZHANGSAN = { user: 'zhangsan', password: '123' };
const BOB = { user: 'bob', password: 'bob-secret' };
const ADMIN = { user: 'admin', password: 'password' };

interface Sftp {
  client: Client;
  raw: RawSftp;
  /** Ends the connection (once: later calls wait for the same close). */
  end(): Promise<void>;
}

async function sftpFor(port: number, login = ZHANGSAN): Promise<Sftp> {
  const client = await connectClient(port, login);
  client.on('error', () => undefined);
  let ended: Promise<void> | undefined;
  return {
    client,
    raw: await RawSftp.open(client),
    end: () => (ended ??= endClient(client)),
  };
}

function opendir(raw: RawSftp, p: string): Promise<Reply> {
  return raw.request(PacketType.OPENDIR, (w) => w.string(p));
}

function readdir(raw: RawSftp, handle: string): Promise<Reply> {
  return raw.request(PacketType.READDIR, (w) => w.string(handle));
}

function openRead(raw: RawSftp, p: string): Promise<Reply> {
  return raw.request(PacketType.OPEN, (w) => w.string(p).u32(OpenFlag.READ).attrs({}));
}

/** The refusal a request got: a FAILURE status, with its message. */
function refusal(r: Reply): string {
  const s = statusOf(r);
  expect(s.code, s.message).to.equal(Status.FAILURE);
  return s.message;
}

/** Every name of a listing, by READDIR until EOF; also the size of each batch. */
async function listAll(
  raw: RawSftp,
  handle: string,
): Promise<{ names: string[]; batches: number[] }> {
  const names: string[] = [];
  const batches: number[] = [];
  for (;;) {
    const r = await readdir(raw, handle);
    if (r.type === PacketType.STATUS) {
      expect(statusOf(r).code).to.equal(Status.EOF);
      return { names, batches };
    }
    const got = namesOf(r);
    batches.push(got.length);
    names.push(...got.map((e) => e.filename));
  }
}

/** `count` empty files in `dir`, with names `long` characters long. */
async function fillDir(dir: string, count: number, long: number): Promise<string[]> {
  await fsp.mkdir(dir, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${String(i).padStart(5, '0')}-`.padEnd(long, 'n');
    names.push(name);
    await fsp.writeFile(path.join(dir, name), '');
  }
  return names;
}

describe('hardening: directory listings', function () {
  this.timeout(30000);
  let server: TestServer;
  let names: string[];
  // Room for 3 open listings per session and 5 on the whole server.
  const perSession = 3 * LISTING_BYTES_PER_HANDLE;
  const total = 5 * LISTING_BYTES_PER_HANDLE;

  before(async function () {
    server = await startTestServer({
      flags: [
        '--max-listing-memory-per-session',
        String(perSession),
        '--max-listing-memory',
        String(total),
      ],
    });
    names = await fillDir(path.join(server.home('zhangsan'), 'big'), 250, 200);
  });

  after(async function () {
    await server?.stop();
  });

  it('lists ".", ".." and every name once, in batches of at most 100, "." and ".." first', async function () {
    const s = await sftpFor(server.port);
    try {
      const h = handleOf(await opendir(s.raw, '/big'));
      const { names: got, batches } = await listAll(s.raw, h);
      expect(got.slice(0, 2)).to.deep.equal(['.', '..']);
      expect([...got].sort()).to.deep.equal(['.', '..', ...names].sort());
      expect(batches.length).to.be.greaterThan(2);
      for (const n of batches) expect(n).to.be.within(1, 100);
      // Past the end it stays at the end.
      expect(statusOf(await readdir(s.raw, h)).code).to.equal(Status.EOF);
      await s.raw.close(h);
      // The home's ".." is the home itself.
      const root = handleOf(await opendir(s.raw, '/'));
      const first = namesOf(await readdir(s.raw, root));
      const dot = first.find((e) => e.filename === '.');
      const dotdot = first.find((e) => e.filename === '..');
      expect(dotdot?.attrs).to.deep.equal(dot?.attrs);
      await s.raw.close(root);
    } finally {
      await s.end();
    }
  });

  it('answers READDIRs pipelined on one handle with the listing once, in order', async function () {
    const s = await sftpFor(server.port);
    try {
      const h = handleOf(await opendir(s.raw, '/big'));
      const replies = await Promise.all(Array.from({ length: 8 }, () => readdir(s.raw, h)));
      const got: string[] = [];
      for (const r of replies) {
        if (r.type === PacketType.STATUS) expect(statusOf(r).code).to.equal(Status.EOF);
        else got.push(...namesOf(r).map((e) => e.filename));
      }
      expect(got.slice(0, 2)).to.deep.equal(['.', '..']);
      expect([...got].sort()).to.deep.equal(['.', '..', ...names].sort());
      await s.raw.close(h);
    } finally {
      await s.end();
    }
  });

  it("refuses an OPENDIR over the session's listing memory with a clear message; CLOSE makes room", async function () {
    const s = await sftpFor(server.port);
    try {
      const handles = [];
      for (let i = 0; i < 3; i++) handles.push(handleOf(await opendir(s.raw, '/big')));
      expect(refusal(await opendir(s.raw, '/big'))).to.equal(
        'too many directory listings open in this session (memory limit 384 KiB); close some first',
      );
      // Files are not listings: they still open.
      await fsp.writeFile(path.join(server.home('zhangsan'), 'f'), 'x');
      await s.raw.close(handleOf(await openRead(s.raw, '/f')));
      await s.raw.close(handles.pop() as string);
      handles.push(handleOf(await opendir(s.raw, '/big')));
      // The session still serves: a listing already open reads to its end.
      const { names: got } = await listAll(s.raw, handles[0] as string);
      expect(got).to.have.length(names.length + 2);
      for (const h of handles) await s.raw.close(h);
    } finally {
      await s.end();
    }
  });

  it('holds the server-wide listing memory across sessions; the others keep working', async function () {
    const a = await sftpFor(server.port);
    const b = await sftpFor(server.port);
    try {
      for (let i = 0; i < 3; i++) handleOf(await opendir(a.raw, '/big'));
      const bHandles = [
        handleOf(await opendir(b.raw, '/big')),
        handleOf(await opendir(b.raw, '/')),
      ];
      expect(refusal(await opendir(b.raw, '/big'))).to.equal(
        'the server has reached its limit of memory for directory listings; try again later',
      );
      expect(server.handles.usage().listingBytes).to.equal(total);
      // Other requests of both sessions go on.
      expect((await listAll(b.raw, bHandles[0] as string)).names).to.have.length(names.length + 2);
      await a.raw.close(handleOf(await openRead(a.raw, '/big/' + (names[0] as string))));
      // A session that goes away without CLOSE gives its share back.
      await a.end();
      await waitUntil('the ended session to give back its listings', () => {
        return server.handles.usage().listingBytes === 2 * LISTING_BYTES_PER_HANDLE;
      });
      await b.raw.close(handleOf(await opendir(b.raw, '/big')));
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('gives back every handle and all listing memory when clients disconnect without CLOSE', async function () {
    const sessions = [await sftpFor(server.port), await sftpFor(server.port)];
    for (const s of sessions) {
      const d = handleOf(await opendir(s.raw, '/big'));
      namesOf(await readdir(s.raw, d));
      handleOf(await openRead(s.raw, '/big/' + (names[1] as string)));
      handleOf(
        await s.raw.request(PacketType.OPEN, (w) =>
          w
            .string(`/w-${sessions.indexOf(s)}`)
            .u32(OpenFlag.WRITE | OpenFlag.CREAT)
            .attrs({}),
        ),
      );
    }
    const during = server.handles.usage();
    expect(during.handles).to.equal(6);
    expect(during.perUser).to.deep.equal({ zhangsan: 6 });
    expect(during.listingBytes).to.equal(2 * LISTING_BYTES_PER_HANDLE);
    for (const s of sessions) void s.end();
    await waitUntil('every handle to be given back', () => {
      const u = server.handles.usage();
      return u.handles === 0 && u.listingBytes === 0;
    });
    expect(server.handles.usage()).to.deep.equal({ handles: 0, perUser: {}, listingBytes: 0 });
  });
});

describe('hardening: open files (server process under prlimit)', function () {
  this.timeout(60000);
  let dataDir: string;
  let local: string;
  let server: ServerProcess | undefined;

  before(async function () {
    if (!(await haveOpenSsh())) this.skip();
    local = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-listing-local-'));
    await fsp.writeFile(path.join(local, 'up.txt'), 'uploaded while another user holds handles\n');
  });

  beforeEach(async function () {
    dataDir = await makeDataDir();
  });

  afterEach(async function () {
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    server = undefined;
    await fsp.rm(dataDir, { recursive: true, force: true });
  });

  after(async function () {
    if (local) await fsp.rm(local, { recursive: true, force: true });
  });

  /** Starts the server, adds bob through the admin console, and gives zhangsan a file /f. */
  async function start(
    flags: string[],
    nofile: { soft: number; hard: number },
  ): Promise<ServerProcess> {
    const started = await startServerProcess(dataDir, flags, { nofile });
    server = started;
    const added = await sshExec(
      started.port,
      ADMIN,
      ['user', 'add', BOB.user, '--password-stdin'],
      `${BOB.password}\n`,
    );
    expect(added.code, added.stderr).to.equal(0);
    await fsp.writeFile(path.join(dataDir, 'docs', 'zhangsan', 'f'), 'x');
    return started;
  }

  /** bob logs in with OpenSSH's sftp, lists his home and uploads a file. */
  async function bobListsAndUploads(port: number): Promise<void> {
    const run = await sftpBatch(port, BOB, ['ls -la', 'put up.txt', 'ls -l up.txt'], {
      cwd: local,
    });
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.include('up.txt');
    const stored = await fsp.readFile(path.join(dataDir, 'docs', 'bob', 'up.txt'), 'utf8');
    expect(stored).to.equal('uploaded while another user holds handles\n');
  }

  /** Opens /f `n` times at once; returns the replies. */
  function openMany(raw: RawSftp, n: number): Promise<Reply[]> {
    return Promise.all(Array.from({ length: n }, () => openRead(raw, '/f')));
  }

  it("caps one user's handles across sessions; another user still logs in, lists and uploads", async function () {
    const s = await start(
      [
        '--max-connections',
        '20',
        '--max-handles-per-user',
        '50',
        '--max-handles-per-session',
        '20',
      ],
      { soft: 512, hard: 512 },
    );
    const sessions = [await sftpFor(s.port), await sftpFor(s.port), await sftpFor(s.port)];
    const [a, b, c] = sessions as [Sftp, Sftp, Sftp];
    try {
      for (const r of await openMany(a.raw, 20)) handleOf(r);
      for (const r of await openMany(b.raw, 20)) handleOf(r);
      const third = await openMany(c.raw, 11);
      for (const r of third.slice(0, 10)) handleOf(r);
      expect(refusal(third[10] as Reply)).to.equal(
        'too many open handles for this user across all sessions (limit 50)',
      );
      // OPENDIR counts too.
      expect(refusal(await opendir(c.raw, '/'))).to.equal(
        'too many open handles for this user across all sessions (limit 50)',
      );
      await bobListsAndUploads(s.port);
      // A session of the user that ends gives its handles back to the others.
      await a.end();
      await waitUntil('the ended session to give its handles back', async () => {
        const r = await openRead(c.raw, '/f');
        return r.type === PacketType.HANDLE;
      });
    } finally {
      for (const x of sessions) await x.end();
    }
  });

  it('at the open-files limit less the reserve, refuses OPEN and OPENDIR clearly; logins go on', async function () {
    // The soft limit is raised to the hard one at start: 512 in all, 104 kept in
    // reserve (64 and two per connection), 408 for handles.
    const s = await start(['--max-connections', '20', '--max-handles-per-user', '100000'], {
      soft: 256,
      hard: 512,
    });
    const line = await waitForLog(dataDir, 'server.open_files');
    expect(line).to.include({ soft: 512, hard: 512, reserve: 104, handles: 408 });
    const a = await sftpFor(s.port);
    const b = await sftpFor(s.port);
    try {
      for (const r of await openMany(a.raw, 256)) handleOf(r);
      const more = await openMany(b.raw, 160);
      const refused = more.filter((r) => r.type === PacketType.STATUS);
      expect(more.length - refused.length).to.equal(408 - 256);
      for (const r of refused) {
        expect(refusal(r)).to.equal(
          'the server has reached its limit of open files (408); try again later',
        );
      }
      // Another user still logs in; his OPENDIR is refused the same clear way.
      const bob = await sftpFor(s.port, BOB);
      try {
        expect(refusal(await opendir(bob.raw, '/'))).to.equal(
          'the server has reached its limit of open files (408); try again later',
        );
      } finally {
        await bob.end();
      }
      // The descriptors ran out nowhere: no EMFILE was logged.
      const failed = (await logLines(dataDir)).filter((l) => String(l.error).includes('EMFILE'));
      expect(failed).to.deep.equal([]);
      await b.end();
      await waitUntil('the ended session to give its handles back', async () => {
        const probe = await sftpFor(s.port, BOB);
        try {
          const r = await opendir(probe.raw, '/');
          if (r.type === PacketType.HANDLE) await probe.raw.close(handleOf(r));
          return r.type === PacketType.HANDLE;
        } finally {
          await probe.end();
        }
      });
      await bobListsAndUploads(s.port);
    } finally {
      await a.end();
      await b.end();
    }
  });
});
