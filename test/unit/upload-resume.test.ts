/**
 * The resume policy through the one call the protocol layer makes
 * (UploadTracker.resume), on real files: what it refuses, with which kind of
 * error and which words, and what it leaves on disk.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { MiniftpError } from '../../src/errors';
import { UserUsage } from '../../src/quota/user-usage';
import { Status } from '../../src/sftp/constants';
import { statusFromError } from '../../src/sftp/status';
import { openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import { UploadLedger } from '../../src/uploads/upload-ledger';
import { HashPool } from '../../src/vfs/hash-pool';
import { Jail } from '../../src/vfs/jail';
import type { ResumeRequest } from '../../src/vfs/upload-tracker';
import { UserFs, fileKey, type OpenRequest } from '../../src/vfs/user-fs';
import { RecordingLogger } from '../helpers/fake-channel';

const WRITE: OpenRequest = {
  read: false,
  write: true,
  append: false,
  create: true,
  truncate: true,
  exclusive: false,
};

const md5 = (b: Buffer): Buffer => createHash('md5').update(b).digest();

async function refusal(p: Promise<unknown>): Promise<MiniftpError> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).to.be.instanceOf(MiniftpError);
  return err as MiniftpError;
}

describe('upload resume (UploadTracker.resume)', function () {
  let root: string;
  let hashing: HashPool;
  let store: Store;
  let ledger: UploadLedger;
  let userFs: UserFs;
  let logger: RecordingLogger;
  const abort = new AbortController();

  beforeEach(async function () {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-resume-'));
    store = await openStore({ file: ':memory:' });
    hashing = new HashPool({ threads: 1, maxJobsPerUser: 16 });
    ledger = new UploadLedger(store, hashing);
    logger = new RecordingLogger();
    userFs = new UserFs({
      jail: new Jail(root),
      usage: new UserUsage('u', 0, 0, { bytes: 0, files: 0 }),
      uploads: ledger,
    });
  });

  afterEach(async function () {
    await ledger.close();
    await hashing.close();
    await store.close();
    await fsp.rm(root, { recursive: true, force: true });
  });

  function request(
    p: string,
    offset: number,
    digest: Buffer,
    writesTo: (key: string) => boolean = () => false,
  ): ResumeRequest {
    return { user: 'u', path: p, offset, md5: digest, writesTo, signal: abort.signal, logger };
  }

  it('refuses a resume of a file the same session still writes as busy, with the same words', async function () {
    const held = await userFs.open('/a.bin', WRITE);
    await held.write(0, Buffer.from('partial'));
    const key = held.key;
    const err = await refusal(
      ledger.resume(
        userFs,
        request('/a.bin', 0, md5(Buffer.alloc(0)), (k) => k === key),
      ),
    );
    expect(err.kind).to.equal('busy');
    expect(statusFromError(err)).to.deep.equal({
      code: Status.FAILURE,
      message:
        'resume refused: this session still has the file open for writing; close that handle first',
    });
    await held.close();
    expect((await fsp.readFile(path.join(root, 'a.bin'))).toString()).to.equal('partial');
  });

  it('waits for a writer in another session to close, then resumes', async function () {
    const data = randomBytes(4096);
    const held = await userFs.open('/b.bin', WRITE);
    await held.write(0, data);
    const resumed = ledger.resume(userFs, request('/b.bin', 1000, md5(data.subarray(0, 1000))));
    // The resume is waiting on the other handle: the file is untouched until it closes.
    const deadline = Date.now() + 5000;
    while (!logger.events.includes('resume.waiting') && Date.now() < deadline) {
      await new Promise<void>((resolve) => setTimeout(resolve, 5));
    }
    expect(logger.events).to.include('resume.waiting');
    expect((await fsp.stat(path.join(root, 'b.bin'))).size).to.equal(4096);
    await held.close();
    const file = await resumed;
    try {
      expect(file.writable).to.equal(true);
      expect((await file.stat()).size).to.equal(1000);
    } finally {
      await file.close();
    }
    expect(logger.events).to.include('resume.accepted');
  });

  it('refuses a prefix whose MD5 differs as a mismatch, leaving the file whole and closed', async function () {
    const data = randomBytes(5000);
    await fsp.writeFile(path.join(root, 'c.bin'), data);
    const other = Buffer.from(data);
    other[10] = (other[10] as number) ^ 0xff;
    const err = await refusal(
      ledger.resume(userFs, request('/c.bin', 3000, md5(other.subarray(0, 3000)))),
    );
    expect(err.kind).to.equal('resume-mismatch');
    expect(err.message).to.match(
      /^resume refused: the first 3000 bytes on the server differ from your file \(MD5 [0-9a-f]{32} on the server, [0-9a-f]{32} yours\)$/,
    );
    const st = await fsp.stat(path.join(root, 'c.bin'));
    expect(st.size).to.equal(5000);
    expect(userFs.usage.isOpen(fileKey(st))).to.equal(false);
    expect(logger.events).to.include('resume.refused');
  });

  it('refuses an offset past the end of the file as a mismatch', async function () {
    await fsp.writeFile(path.join(root, 'd.bin'), Buffer.alloc(100));
    const err = await refusal(
      ledger.resume(userFs, request('/d.bin', 200, md5(Buffer.alloc(200)))),
    );
    expect(err.kind).to.equal('resume-mismatch');
    expect(err.message).to.equal(
      'resume refused: the server has 100 bytes of this file, fewer than the 200 to resume from',
    );
  });
});
