/**
 * A class: a teacher fills /handouts (read for group class1, write for the
 * teacher), students hand in work to an `upload` folder /homework, and a
 * project group shares a `write` folder with its own quota. Driven by stock
 * OpenSSH `sftp` and paramiko; the admin console through `ssh admin@host`.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { folderSubject } from '../../src/quota/quota-ledger';
import { haveOpenSsh, sftpBatch, sshExec, type ClientRun } from '../helpers/openssh';
import { startTestServer, type TestServer } from '../helpers/server';
import { call, connectClient, endClient, expectFailure, openSftp } from '../helpers/ssh-client';
import { Status } from '../../src/sftp/constants';

const ADMIN = { user: 'admin', password: 'password' };
const PW = 'pw-123';
const user = (name: string) => ({ user: name, password: PW });
const DENIED = 13; // paramiko: IOError(EACCES) for SSH_FX_PERMISSION_DENIED

type Op = [string, ...string[]];
type Outcome = { ok?: unknown; error?: string; errno?: number };

/** Runs `ops` through paramiko's SFTPClient as `who`. */
function paramiko(port: number, who: string, ops: Op[]): Promise<Outcome[]> {
  const script = path.join(
    __dirname,
    '..',
    '..',
    '..',
    'test',
    'integration',
    'fixtures',
    'folders-paramiko.py',
  );
  return new Promise((resolve, reject) => {
    const child = execFile(
      '/usr/bin/python3',
      [script, String(port), who, PW],
      (err, stdout, stderr) => {
        if (err) reject(new Error(`paramiko failed: ${stderr}`));
        else resolve(JSON.parse(stdout) as Outcome[]);
      },
    );
    child.stdin?.end(JSON.stringify(ops));
  });
}

async function admin(server: TestServer, line: string, input = ''): Promise<string> {
  const run = await sshExec(server.port, ADMIN, [line], input);
  expect(run.code, `admin '${line}':\n${run.stderr}${run.stdout}`).to.equal(0);
  return run.stdout;
}

/** OpenSSH sftp batch; the run itself (a failing command stops the batch). */
function sftp(
  server: TestServer,
  who: string,
  commands: string[],
  cwd?: string,
): Promise<ClientRun> {
  return sftpBatch(server.port, user(who), commands, { cwd });
}

function ok(run: ClientRun): string {
  expect(run.code, `sftp failed:\n${run.stderr}\n${run.stdout}`).to.equal(0);
  return run.stdout;
}

function failed(run: ClientRun, message: RegExp): void {
  expect(run.code, `sftp should have failed:\n${run.stdout}`).to.not.equal(0);
  expect(run.stderr).to.match(message);
}

/** Names `ls -1` printed for a directory (OpenSSH sftp prints them with the path given). */
function listed(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('sftp>'))
    .map((l) => path.posix.basename(l.trim()))
    .sort();
}

describe('shared folders: a class with handouts, homework and a project folder', function () {
  this.timeout(60_000);
  let server: TestServer;
  let local: string;

  before(async function () {
    if (!(await haveOpenSsh())) this.skip();
    server = await startTestServer();
    local = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-folders-'));
    for (const name of ['teacher', 'alice', 'bob', 'carol']) {
      await admin(server, `user add ${name} --password-stdin`, `${PW}\n`);
    }
    await admin(server, 'group add class1');
    await admin(server, 'group member add class1 alice bob');
    await admin(server, 'folder add handouts --quota 10M');
    await admin(server, 'folder grant handouts @class1 read');
    await admin(server, 'folder grant handouts teacher write');
    await admin(server, 'folder add homework --quota 10M');
    await admin(server, 'folder grant homework @class1 upload');
    await admin(server, 'folder grant homework teacher read');
    await fsp.writeFile(path.join(local, 'sheet1.txt'), 'exercise sheet 1\n');
    await fsp.writeFile(path.join(local, 'fake.txt'), 'not from the teacher\n');
  });

  after(async function () {
    await server?.stop();
    if (local) await fsp.rm(local, { recursive: true, force: true });
  });

  it('the teacher fills /handouts; the students read it and can change nothing in it', async function () {
    ok(
      await sftp(
        server,
        'teacher',
        ['put sheet1.txt /handouts/sheet1.txt', 'mkdir /handouts/week2'],
        local,
      ),
    );
    // Stored in the folder, outside every home.
    const stored = path.join(server.dataDir, 'docs', '.folders', 'handouts', 'sheet1.txt');
    expect(await fsp.readFile(stored, 'utf8')).to.equal('exercise sheet 1\n');

    // alice with OpenSSH sftp: the folder is listed in her home and readable.
    const top = listed(ok(await sftp(server, 'alice', ['ls -1 /'])));
    expect(top).to.include('handouts');
    expect(listed(ok(await sftp(server, 'alice', ['ls -1 /handouts'])))).to.deep.equal([
      'sheet1.txt',
      'week2',
    ]);
    ok(await sftp(server, 'alice', ['get /handouts/sheet1.txt alice-copy.txt'], local));
    expect(await fsp.readFile(path.join(local, 'alice-copy.txt'), 'utf8')).to.equal(
      'exercise sheet 1\n',
    );
    // OpenSSH's sftp prints its own words for a status; paramiko (below) shows the server's text.
    const readOnly = /Permission denied: \/handouts is read-only for you/;
    const denied = /Permission denied/;
    failed(await sftp(server, 'alice', ['put fake.txt /handouts/sheet1.txt'], local), denied);
    failed(await sftp(server, 'alice', ['put fake.txt /handouts/new.txt'], local), denied);
    failed(await sftp(server, 'alice', ['rm /handouts/sheet1.txt']), denied);
    failed(await sftp(server, 'alice', ['rename /handouts/sheet1.txt /handouts/x.txt']), denied);
    failed(await sftp(server, 'alice', ['mkdir /handouts/mine']), denied);
    failed(await sftp(server, 'alice', ['rmdir /handouts/week2']), denied);
    failed(await sftp(server, 'alice', ['chmod 600 /handouts/sheet1.txt']), denied);
    failed(await sftp(server, 'alice', ['rmdir /handouts']), denied);

    // bob with paramiko: the same, with the same words.
    const r = await paramiko(server.port, 'bob', [
      ['list', '/handouts'],
      ['read', '/handouts/sheet1.txt'],
      ['put', '/handouts/sheet1.txt', 'overwritten'],
      ['remove', '/handouts/sheet1.txt'],
      ['rename', '/handouts/sheet1.txt', '/sheet1.txt'],
      ['stat', '/handouts'],
    ]);
    expect(r[0]?.ok).to.deep.equal(['sheet1.txt', 'week2']);
    expect(r[1]?.ok).to.equal('exercise sheet 1\n');
    expect(r[2]?.errno).to.equal(DENIED);
    expect(r[2]?.error).to.match(readOnly);
    expect(r[3]?.error).to.match(readOnly);
    expect(r[4]?.errno).to.equal(DENIED);
    expect(r[5]?.ok).to.equal('dir');
    expect(await fsp.readFile(stored, 'utf8')).to.equal('exercise sheet 1\n');

    // carol is in no group: no /handouts in her home.
    expect(listed(ok(await sftp(server, 'carol', ['ls -1 /'])))).to.not.include('handouts');
    failed(
      await sftp(server, 'carol', ['get /handouts/sheet1.txt'], local),
      /not found|No such file/,
    );
  });

  it("homework: each student uploads (and resumes), sees only their own files, and cannot touch the other's", async function () {
    const essay = 'alice essay: '.padEnd(300_000, 'a');
    await fsp.writeFile(path.join(local, 'essay.txt'), essay);
    // The first upload was cut short: the server holds the first 100000 bytes.
    await fsp.writeFile(path.join(local, 'cut.txt'), essay.slice(0, 100_000));
    ok(await sftp(server, 'alice', ['put cut.txt /homework/alice-essay.txt'], local));
    // bob uploads with paramiko; the first try is cut short, then resumed where it stopped.
    const bobWork = 'bob work '.repeat(1000);
    const r = await paramiko(server.port, 'bob', [
      ['put_new', '/homework/bob.txt', bobWork.slice(0, 4000)],
      ['append_at', '/homework/bob.txt', '4000', bobWork.slice(4000)],
      ['read', '/homework/bob.txt'],
      ['list', '/homework'],
      ['read', '/homework/alice-essay.txt'],
      ['put', '/homework/alice-essay.txt', 'replaced by bob'],
      ['remove', '/homework/alice-essay.txt'],
      ['rename', '/homework/alice-essay.txt', '/homework/bob2.txt'],
      ['stat', '/homework/alice-essay.txt'],
      ['mkdir', '/homework/sub'],
      ['put_new', '/homework/alice-essay.txt', 'same name as hers'],
    ]);
    expect(r[0]?.ok, JSON.stringify(r[0])).to.equal(true);
    expect(r[1]?.ok, JSON.stringify(r[1])).to.equal(true);
    expect(r[2]?.ok).to.equal(bobWork);
    expect(r[3]?.ok).to.deep.equal(['bob.txt']);
    const notYours = /Permission denied: \/homework is upload-only for you/;
    for (const i of [4, 5, 6, 7, 8]) {
      expect(r[i]?.errno, `op ${i}: ${JSON.stringify(r[i])}`).to.equal(DENIED);
      expect(r[i]?.error).to.match(notYours);
    }
    expect(r[9]?.error).to.match(/upload-only for you: you can upload files, not make/);
    expect(r[10]?.errno, JSON.stringify(r[10])).to.not.equal(undefined);

    // alice with OpenSSH: her own file only; her cut upload is completed with reput.
    expect(listed(ok(await sftp(server, 'alice', ['ls -1 /homework'])))).to.deep.equal([
      'alice-essay.txt',
    ]);
    const folderFile = path.join(server.dataDir, 'docs', '.folders', 'homework', 'alice-essay.txt');
    expect((await fsp.stat(folderFile)).size).to.equal(100_000);
    ok(await sftp(server, 'alice', ['reput essay.txt /homework/alice-essay.txt'], local));
    expect(await fsp.readFile(folderFile, 'utf8')).to.equal(essay);
    // OpenSSH's get looks the name up first, and is refused it.
    failed(
      await sftp(server, 'alice', ['get /homework/bob.txt'], local),
      /not found|Permission denied/,
    );
    failed(await sftp(server, 'alice', ['rm /homework/bob.txt']), /Permission denied/);
    failed(
      await sftp(server, 'alice', ['put fake.txt /homework/bob.txt'], local),
      /Permission denied/,
    );
    // Her own: she may remove it.
    ok(
      await sftp(
        server,
        'alice',
        ['put fake.txt /homework/draft.txt', 'rm /homework/draft.txt'],
        local,
      ),
    );

    // The hash commands over exec read only what may be read.
    const own = await sshExec(server.port, user('alice'), ['md5sum', '/homework/alice-essay.txt']);
    expect(own.code, own.stderr).to.equal(0);
    const other = await sshExec(server.port, user('alice'), ['md5sum', '/homework/bob.txt']);
    expect(other.code).to.not.equal(0);
    expect(other.stderr).to.match(notYours);

    // The teacher (read) sees both and can change neither.
    expect(listed(ok(await sftp(server, 'teacher', ['ls -1 /homework'])))).to.deep.equal([
      'alice-essay.txt',
      'bob.txt',
    ]);
    failed(await sftp(server, 'teacher', ['rm /homework/bob.txt']), /Permission denied/);
    const t = await paramiko(server.port, 'teacher', [['remove', '/homework/bob.txt']]);
    expect(t[0]?.error).to.match(/Permission denied: \/homework is read-only for you/);
    expect(
      await fsp.readFile(
        path.join(server.dataDir, 'docs', '.folders', 'homework', 'bob.txt'),
        'utf8',
      ),
    ).to.equal(bobWork);
    // Charged to the folder, not to the students.
    expect((await server.quota.get('alice')).bytes).to.equal(0);
    expect((await server.quota.get(folderSubject('homework'))).bytes).to.equal(
      essay.length + bobWork.length,
    );
  });

  it("a project folder has its own quota: full is refused, the uploader's own quota untouched", async function () {
    await admin(server, 'user add dan --quota 5M --password-stdin', `${PW}\n`);
    await admin(server, 'group add proj');
    await admin(server, 'group member add proj dan carol');
    await admin(server, 'folder add project --quota 1M');
    await admin(server, 'folder grant project @proj write --as /team');
    await fsp.writeFile(path.join(local, 'part.bin'), Buffer.alloc(700 * 1024, 1));
    ok(await sftp(server, 'dan', ['put part.bin /team/a.bin'], local));
    failed(await sftp(server, 'carol', ['put part.bin /team/b.bin'], local), /Failure/);
    const full = await paramiko(server.port, 'carol', [
      ['put', '/team/b.bin', 'x'.repeat(700 * 1024)],
    ]);
    expect(full[0]?.error).to.match(/quota exceeded: .* of 1 MiB used/);
    // Raised, the same upload fits.
    await admin(server, 'folder quota project 2M');
    const again = await paramiko(server.port, 'carol', [
      ['put', '/team/b.bin', 'x'.repeat(700 * 1024)],
    ]);
    expect(again[0]?.ok, JSON.stringify(again[0])).to.equal(true);
    expect((await server.quota.get('dan')).bytes).to.equal(0);
    expect((await server.quota.get('carol')).bytes).to.equal(0);
    // df inside the folder shows the folder's quota, in the home the user's.
    const df = ok(await sftp(server, 'dan', ['cd /team', 'df']));
    const size = Number(
      df
        .split('\n')
        .find((l) => /^\s*\d+/.test(l))
        ?.trim()
        .split(/\s+/)[0],
    );
    expect(size).to.equal(2 * 1024);
    const dfHome = ok(await sftp(server, 'dan', ['df']));
    const homeSize = Number(
      dfHome
        .split('\n')
        .find((l) => /^\s*\d+/.test(l))
        ?.trim()
        .split(/\s+/)[0],
    );
    expect(homeSize).to.equal(5 * 1024);
    // Both members write: carol renames and removes what dan uploaded (and what was cut short).
    ok(
      await sftp(server, 'carol', [
        'rename /team/a.bin /team/c.bin',
        'rm /team/c.bin',
        'rm /team/b.bin',
      ]),
    );
    expect((await server.quota.get(folderSubject('project'))).bytes).to.equal(0);
    const shown = JSON.parse(await admin(server, 'folder show project --json')) as {
      usedBytes: number;
      grants: Array<{ to: string; mode: string; at: string }>;
    };
    expect(shown.grants).to.deep.equal([{ to: '@proj', mode: 'write', at: '/team' }]);
  });

  it('a grant revoked while a session is open applies to its next request', async function () {
    const client = await connectClient(server.port, user('bob'));
    try {
      const sftp = await openSftp(client);
      const names = async (dir: string): Promise<string[]> =>
        (await call<Array<{ filename: string }>>((cb) => sftp.readdir(dir, cb))).map(
          (e) => e.filename,
        );
      expect(await names('/')).to.include('handouts');
      expect(await names('/handouts')).to.include('sheet1.txt');
      await admin(server, 'folder revoke handouts @class1');
      // The console answers once the change is in force in this process: the very next request sees it.
      expect(await names('/')).to.not.include('handouts');
      await expectFailure(names('/handouts'), Status.NO_SUCH_FILE);
      await admin(server, 'folder grant handouts @class1 read');
      expect(await names('/handouts')).to.include('sheet1.txt');
    } finally {
      await endClient(client);
    }
  });

  it('per-path permissions inside a home: perm set, list and del', async function () {
    ok(await sftp(server, 'carol', ['mkdir /notes', 'put fake.txt /notes/a.txt'], local));
    await admin(server, 'perm set carol /notes read');
    const listing = JSON.parse(await admin(server, 'perm list carol --json')) as {
      perms: Array<{ path: string; mode: string }>;
    };
    expect(listing.perms).to.deep.equal([{ path: '/notes', mode: 'read' }]);
    failed(await sftp(server, 'carol', ['put fake.txt /notes/b.txt'], local), /Permission denied/);
    failed(await sftp(server, 'carol', ['rename /notes /other']), /Permission denied/);
    // A symlink made elsewhere does not lead around the permission.
    ok(await sftp(server, 'carol', ['symlink /notes /way-in']));
    failed(await sftp(server, 'carol', ['put fake.txt /way-in/c.txt'], local), /Permission denied/);
    ok(await sftp(server, 'carol', ['get /way-in/a.txt'], local));
    const r = await paramiko(server.port, 'carol', [
      ['put', '/notes/b.txt', 'x'],
      ['put', '/way-in/c.txt', 'x'],
      ['rename', '/notes', '/other'],
      ['remove', '/notes/a.txt'],
    ]);
    for (const [i, o] of r.entries()) {
      expect(o.error, `op ${i}`).to.match(/^Permission denied: \/notes is read-only for you$/);
    }
    await admin(server, 'perm del carol /notes');
    ok(await sftp(server, 'carol', ['put fake.txt /notes/b.txt'], local));
  });

  it('the console checks what it is given', async function () {
    const bad = async (line: string, message: RegExp): Promise<void> => {
      const run = await sshExec(server.port, ADMIN, [line]);
      expect(run.code, line).to.not.equal(0);
      expect(run.stderr + run.stdout, line).to.match(message);
    };
    // Each refused on its own, so they can run side by side.
    await Promise.all([
      bad('group add class1', /group 'class1' exists/),
      bad('group add Bad!', /group name 'Bad!' is not allowed/),
      bad('group member add nogroup alice', /no group 'nogroup'/),
      bad('group member add class1 nobody-here', /no user 'nobody-here'/),
      bad('folder add handouts', /folder 'handouts' exists/),
      bad(
        'folder grant handouts alice execute',
        /mode 'execute' is not one of read, write, upload/,
      ),
      bad('folder grant handouts @nogroup read', /no group 'nogroup'/),
      bad(
        'folder grant homework alice read --as /handouts',
        /already has folder 'handouts' at \/handouts/,
      ),
      bad('folder grant handouts alice read --as relative', /--as must start with \//),
      bad('folder del handouts', /needs --yes without a terminal/),
      bad('folder revoke handouts carol', /not granted to carol/),
      bad('perm set alice /x everything', /mode 'everything'/),
    ]);
    const groups = JSON.parse(await admin(server, 'group list --json')) as Array<{
      name: string;
      members: string[];
    }>;
    expect(groups.find((g) => g.name === 'class1')?.members).to.deep.equal(['alice', 'bob']);
    const shown = JSON.parse(await admin(server, 'group show class1 --json')) as {
      grants: Array<{ folder: string }>;
    };
    expect(shown.grants.map((g) => g.folder).sort()).to.deep.equal(['handouts', 'homework']);
    await admin(server, 'group member del class1 bob');
    const r = await paramiko(server.port, 'bob', [['list', '/']]);
    expect(r[0]?.ok).to.not.include('homework');
    await admin(server, 'group member add class1 bob');
    const folders = JSON.parse(await admin(server, 'folder list --json')) as Array<{
      name: string;
    }>;
    expect(folders.map((f) => f.name)).to.deep.equal(['handouts', 'homework', 'project']);
  });
});
