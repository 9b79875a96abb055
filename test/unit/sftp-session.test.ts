/**
 * The per-session limits of `SftpSession`, driven on a fake channel over a
 * real jailed filesystem: requests running at once, open handles, packet
 * size, and the answers owed to requests still running when the client sends EOF.
 */
import { promises as fsp } from 'node:fs';
import type * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { UserUsage } from '../../src/quota/user-usage';
import { PacketReader, PacketWriter } from '../../src/sftp/codec';
import { OpenFlag, PacketType, Status } from '../../src/sftp/constants';
import { ExtensionRegistry, registerStandardExtensions } from '../../src/sftp/extensions';
import { SftpSession, type SftpLimits } from '../../src/sftp/session';
import { Jail } from '../../src/vfs/jail';
import { UserFs } from '../../src/vfs/user-fs';
import { FakeChannel, RecordingLogger, asServerChannel } from '../helpers/fake-channel';

const INIT = new PacketWriter(PacketType.INIT).u32(3).finish();

/** A UserFs whose stat() waits for `release()`, counting how many wait at once. */
class GatedFs extends UserFs {
  running = 0;
  most = 0;
  private opened!: () => void;
  private gate = new Promise<void>((resolve) => (this.opened = resolve));
  private readonly waiters: Array<() => void> = [];

  override async stat(virtual: string): Promise<fs.Stats> {
    this.running++;
    this.most = Math.max(this.most, this.running);
    for (const w of this.waiters.splice(0)) w();
    try {
      await this.gate;
      return await super.stat(virtual);
    } finally {
      this.running--;
    }
  }

  /** Resolves once `n` stat calls are waiting at the gate. */
  async waitRunning(n: number): Promise<void> {
    while (this.running < n) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    this.opened();
  }
}

function statusOf(reply: Buffer): { id: number; code: number; message: string } {
  const r = new PacketReader(reply, 1);
  return { id: r.u32(), code: r.u32(), message: r.string() };
}

describe('SFTP session limits', function () {
  let root: string;

  before(async function () {
    root = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-limits-')));
    await fsp.writeFile(path.join(root, 'f'), 'x');
  });

  after(async function () {
    await fsp.rm(root, { recursive: true, force: true });
  });

  function session(
    limits: Partial<SftpLimits>,
    fsImpl?: UserFs,
  ): { channel: FakeChannel; logger: RecordingLogger; fs: UserFs } {
    const channel = new FakeChannel();
    const logger = new RecordingLogger();
    const userFs =
      fsImpl ??
      new UserFs({ jail: new Jail(root), usage: new UserUsage('u', 0, 0, { bytes: 0, files: 0 }) });
    new SftpSession({
      channel: asServerChannel(channel),
      fs: userFs,
      user: 'u',
      logger,
      limits: { maxPacket: 34000, maxPending: 64, maxHandles: 256, ...limits },
      extensions: registerStandardExtensions(new ExtensionRegistry()),
    }).start();
    channel.push(INIT);
    return { channel, logger, fs: userFs };
  }

  function ended(channel: FakeChannel): Promise<void> {
    return new Promise((resolve) => channel.once('finish', () => resolve()));
  }

  function stats(from: number, count: number): Buffer {
    const packets = [];
    for (let id = from; id < from + count; id++) {
      packets.push(new PacketWriter(PacketType.STAT).u32(id).string('/f').finish());
    }
    return Buffer.concat(packets);
  }

  it('never runs more requests at once than maxPending, even from one chunk of input', async function () {
    const gated = new GatedFs({
      jail: new Jail(root),
      usage: new UserUsage('u', 0, 0, { bytes: 0, files: 0 }),
    });
    const { channel } = session({ maxPending: 8 }, gated);
    // 300 requests in a single chunk, as one SSH data message can carry.
    channel.push(stats(1, 300));
    await gated.waitRunning(8);
    // Give the session every chance to start more than it may.
    await new Promise((resolve) => setImmediate(resolve));
    expect(gated.running).to.equal(8);
    const done = ended(channel);
    gated.release();
    channel.push(null);
    await done;
    expect(gated.most).to.equal(8);
    const ids = channel.replies.slice(1).map((r) => new PacketReader(r, 1).u32());
    expect(ids.length).to.equal(300);
    expect(new Set(ids).size).to.equal(300);
    expect(channel.replies.slice(1).every((r) => r[0] === PacketType.ATTRS)).to.equal(true);
  });

  it('answers every request the client pipelined before its EOF', async function () {
    const { channel } = session({ maxPending: 4 });
    const done = ended(channel);
    channel.push(stats(1, 50));
    channel.push(null);
    await done;
    expect(channel.replies.length).to.equal(51);
    expect(channel.exitCode).to.equal(0);
  });

  it('refuses the handle past maxHandles with a clear message, and takes it once one is closed', async function () {
    const { channel } = session({ maxHandles: 2 });
    const reply = (): Promise<Buffer> =>
      new Promise((resolve) => channel.once('reply', (r: Buffer) => resolve(r)));
    await reply();
    const open = async (id: number): Promise<Buffer> => {
      const r = reply();
      channel.push(
        new PacketWriter(PacketType.OPEN)
          .u32(id)
          .string('/f')
          .u32(OpenFlag.READ)
          .attrs({})
          .finish(),
      );
      return r;
    };
    const handles = [];
    for (const id of [1, 2]) {
      const r = await open(id);
      expect(r[0]).to.equal(PacketType.HANDLE);
      handles.push(new PacketReader(r, 5).string());
    }
    const refused = statusOf(await open(3));
    expect(refused).to.deep.equal({
      id: 3,
      code: Status.FAILURE,
      message: 'too many open handles (limit 2)',
    });
    const dir = reply();
    channel.push(new PacketWriter(PacketType.OPENDIR).u32(4).string('/').finish());
    expect(statusOf(await dir).message).to.equal('too many open handles (limit 2)');
    const closed = reply();
    channel.push(
      new PacketWriter(PacketType.CLOSE)
        .u32(5)
        .string(handles[0] as string)
        .finish(),
    );
    expect(statusOf(await closed).code).to.equal(Status.OK);
    expect((await open(6))[0]).to.equal(PacketType.HANDLE);
    const done = ended(channel);
    channel.push(null);
    await done;
  });

  it('closes the channel on a packet longer than maxPacket, without reading it', async function () {
    const { channel, logger } = session({ maxPacket: 34000 });
    const done = ended(channel);
    const head = Buffer.alloc(9);
    head.writeUInt32BE(34001, 0);
    head[4] = PacketType.WRITE;
    // Only the header: the session must not wait for the 34001 bytes it announced.
    channel.push(head);
    await done;
    expect(channel.replies.length).to.equal(1);
    expect(logger.events).to.include('sftp.bad_packet');
  });
});
