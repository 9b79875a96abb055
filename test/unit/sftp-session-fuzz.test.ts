/**
 * Property-based fuzzing of the SFTP session: thousands of random and mutated
 * packets (bad lengths, truncated and lying strings, huge counts, unknown
 * types and extensions, stale handles) fed to `SftpSession` on a fake channel
 * over a real jailed filesystem in a temporary directory. The session must
 * never crash, hang or leave a rejection unhandled; every reply must be a
 * well-formed answer to a request that was sent, each id answered once when
 * the stream was well framed; and the jail must hold throughout.
 */
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { UserUsage } from '../../src/quota/user-usage';
import { registerCheckFile } from '../../src/sftp/check-file';
import { PacketReader, PacketWriter } from '../../src/sftp/codec';
import { OpenFlag, PacketType, Status } from '../../src/sftp/constants';
import { ExtensionRegistry, registerStandardExtensions } from '../../src/sftp/extensions';
import { registerResume } from '../../src/sftp/resume';
import { SftpSession, type SftpLimits } from '../../src/sftp/session';
import { openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import { Jail } from '../../src/vfs/jail';
import { UploadLedger } from '../../src/uploads/upload-ledger';
import { HashPool } from '../../src/vfs/hash-pool';
import { UserFs } from '../../src/vfs/user-fs';
import { FakeChannel, RecordingLogger, asServerChannel } from '../helpers/fake-channel';
import { INIT, checkReplies, frame, packetArb } from '../helpers/sftp-packets';

const LIMITS: SftpLimits = { maxPacket: 34000, maxPending: 8, maxHandles: 4 };
/** A session that has not finished this long after the client's EOF is hung. */
const HANG_MS = 5000;

// ---- harness -------------------------------------------------------------------

interface Outcome {
  replies: Buffer[];
  events: string[];
  garbled: string | undefined;
}

class Harness {
  readonly fs: UserFs;
  readonly extensions: ExtensionRegistry;
  readonly ledger: UploadLedger;
  readonly hashing = new HashPool({ threads: 1, maxJobsPerUser: 16 });

  constructor(
    readonly root: string,
    readonly store: Store,
  ) {
    const ledger = new UploadLedger(store, this.hashing);
    this.ledger = ledger;
    this.extensions = registerResume(
      registerCheckFile(registerStandardExtensions(new ExtensionRegistry()), ledger, this.hashing),
      ledger,
    );
    this.fs = new UserFs({
      jail: new Jail(root),
      // A quota, so that huge offsets and sizes are refused instead of filling the disk.
      usage: new UserUsage('fuzz', 0, 0, { bytes: 32 * 1024 * 1024, files: 500 }),
      uploads: ledger,
    });
  }

  private start(): { channel: FakeChannel; logger: RecordingLogger } {
    const channel = new FakeChannel();
    const logger = new RecordingLogger();
    new SftpSession({
      channel: asServerChannel(channel),
      fs: this.fs,
      user: 'fuzz',
      logger,
      limits: LIMITS,
      extensions: this.extensions,
    }).start();
    return { channel, logger };
  }

  /** A session driven one request at a time. */
  async interactive(): Promise<{
    exchange(packet: Buffer): Promise<Buffer>;
    end(): Promise<void>;
  }> {
    const { channel } = this.start();
    await new Promise((resolve) => {
      channel.once('reply', resolve);
      channel.push(INIT);
    });
    return {
      exchange: (packet) =>
        new Promise((resolve) => {
          channel.once('reply', resolve);
          channel.push(packet);
        }),
      end: () =>
        new Promise((resolve) => {
          channel.once('finish', () => resolve());
          channel.push(null);
        }),
    };
  }

  /** Runs one session: INIT, `stream` cut into `cuts` chunks, EOF; resolves when it ends. */
  async run(stream: Buffer, cuts: number[] = []): Promise<Outcome> {
    const { channel, logger } = this.start();
    const ended = new Promise<void>((resolve) => channel.once('finish', () => resolve()));
    channel.push(INIT);
    let from = 0;
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      if (cut <= from || cut >= stream.length) continue;
      channel.push(stream.subarray(from, cut));
      from = cut;
    }
    if (from < stream.length) channel.push(stream.subarray(from));
    channel.push(null);
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((resolve) => {
      timer = setTimeout(() => resolve('hung'), HANG_MS);
    });
    const result = await Promise.race([ended, hung]);
    clearTimeout(timer);
    if (result === 'hung') {
      channel.destroy();
      throw new Error(`the session did not end within ${HANG_MS} ms of EOF`);
    }
    return { replies: channel.replies, events: logger.events, garbled: channel.garbledOutput };
  }
}

/** Checks one session's replies against what was sent. */
function checkOutcome(stream: Buffer, out: Outcome): void {
  expect(out.garbled, 'the server wrote a malformed packet').to.equal(undefined);
  const unexpected = out.events.filter((e) => e.startsWith('sftp.request_failed'));
  expect(unexpected, 'requests failed with an unexpected (internal) error').to.deep.equal([]);
  checkReplies({
    stream,
    replies: out.replies,
    maxPacket: LIMITS.maxPacket,
    gaveUp: out.events.includes('sftp.bad_packet'),
    secret: tmpRoot,
  });
}

/** The temporary directory: no message may name it. */
let tmpRoot = '/nonexistent';

async function walk(dir: string, visit: (p: string, mode: number) => void): Promise<void> {
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    const st = await fsp.lstat(p);
    visit(p, st.mode);
    if (e.isDirectory()) await walk(p, visit);
  }
}

describe('SFTP session fuzzing', function () {
  this.timeout(60000);
  let tmp: string;
  let root: string;
  let outside: string;
  let harness: Harness;
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown): void => {
    rejections.push(reason);
  };

  before(async function () {
    process.on('unhandledRejection', onRejection);
    tmp = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-fuzz-')));
    tmpRoot = tmp;
    root = path.join(tmp, 'home');
    outside = path.join(tmp, 'outside');
    await fsp.mkdir(path.join(root, 'dir'), { recursive: true });
    await fsp.mkdir(outside);
    await fsp.writeFile(path.join(outside, 'secret'), 'do not touch');
    await fsp.writeFile(path.join(root, 'f1'), Buffer.alloc(5000, 7));
    await fsp.writeFile(path.join(root, 'dir', 'f2'), 'hello');
    await fsp.symlink(outside, path.join(root, 'link-out'));
    execFileSync('mkfifo', [path.join(root, 'fifo')]);
    const store = await openStore({ file: ':memory:' });
    await store.users.create({
      name: 'fuzz',
      passwordHash: 'x',
      quotaBytes: 0,
      quotaFiles: 0,
      isAdmin: false,
    });
    harness = new Harness(root, store);
  });

  after(async function () {
    await harness?.ledger.close();
    await harness?.hashing.close();
    await harness?.store.close();
    process.off('unhandledRejection', onRejection);
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  afterEach(function () {
    expect(rejections.map(String), 'unhandled promise rejections').to.deep.equal([]);
  });

  /** Runs `runs` sessions of generated packets; returns how many packets were sent. */
  async function fuzz(clean: number, runs: number): Promise<number> {
    let packets = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(packetArb(clean), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat({ max: 4000 }), { maxLength: 4 }),
        async (list, cuts) => {
          packets += list.length;
          const stream = Buffer.concat(list.map(frame));
          checkOutcome(stream, await harness.run(stream, cuts));
        },
      ),
      { numRuns: runs },
    );
    return packets;
  }

  it('answers every id of mostly well-formed requests exactly once', async function () {
    const packets = await fuzz(60, 2000);
    console.log(`      ${packets} packets`);
  });

  it('answers or closes on mutated requests: bad lengths, lying strings, flipped bytes', async function () {
    const packets = await fuzz(6, 2000);
    console.log(`      ${packets} packets`);
  });

  it('survives streams of random bytes after INIT', async function () {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), async (bytes) => {
        const stream = Buffer.from(bytes);
        checkOutcome(stream, await harness.run(stream));
      }),
      { numRuns: 500 },
    );
  });

  it('kept the jail, dropped setuid/setgid/sticky bits, and still serves a normal session', async function () {
    expect(await fsp.readFile(path.join(outside, 'secret'), 'utf8')).to.equal('do not touch');
    expect(await fsp.readdir(outside)).to.deep.equal(['secret']);
    const special: string[] = [];
    await walk(root, (p, mode) => {
      if (mode & 0o7000) special.push(`${path.relative(root, p)} ${(mode & 0o7777).toString(8)}`);
    });
    expect(special, 'files with setuid, setgid or sticky bits').to.deep.equal([]);

    // The fuzz may have used up the quota that kept it from filling the disk
    // (sparse files grown by SETSTAT, writes at large offsets): lift it, so a
    // refused write below can only mean the session itself is broken.
    (harness.fs.usage as UserUsage).limits = { bytes: 0, files: 0 };
    const w = (type: number, id: number): PacketWriter => new PacketWriter(type).u32(id);
    const live = await harness.interactive();
    const opened = await live.exchange(
      w(PacketType.OPEN, 1)
        .string('/calm.txt')
        .u32(OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC)
        .attrs({})
        .finish(),
    );
    expect(opened[0]).to.equal(PacketType.HANDLE);
    const handle = new PacketReader(opened, 5).string();
    const wrote = await live.exchange(
      w(PacketType.WRITE, 2).string(handle).u64(0).bytes(Buffer.from('after the storm')).finish(),
    );
    const closed = await live.exchange(w(PacketType.CLOSE, 3).string(handle).finish());
    const statuses = [wrote, closed].map((r) => {
      const reader = new PacketReader(r, 5);
      return { code: reader.u32(), message: reader.string() };
    });
    expect(
      statuses.map((st) => st.code),
      statuses.map((st) => st.message).join('; '),
    ).to.deep.equal([Status.OK, Status.OK]);
    await live.end();
    expect(await fsp.readFile(path.join(root, 'calm.txt'), 'utf8')).to.equal('after the storm');
  });
});
