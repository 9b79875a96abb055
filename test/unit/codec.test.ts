import { expect } from 'chai';
import { BufferPool, PacketFramer } from '../../src/sftp/codec';

function packet(body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** Feeds `bytes` to the framer in SSH-sized chunks, as ssh2 delivers channel data. */
function feed(framer: PacketFramer, bytes: Buffer, chunk = 32 * 1024): void {
  for (let i = 0; i < bytes.length; i += chunk) {
    framer.push(Buffer.from(bytes.subarray(i, i + chunk)));
  }
}

describe('BufferPool and PacketFramer', function () {
  it('joins a body that spans chunks into a pool buffer, and reuses it once released', function () {
    const pool = new BufferPool(300 * 1024, 4);
    const framer = new PacketFramer(300 * 1024, pool);
    const first = Buffer.alloc(256 * 1024, 1);
    const second = Buffer.alloc(256 * 1024, 2);
    feed(framer, packet(first));
    const a = framer.next() as Buffer;
    expect(a.equals(first)).to.equal(true);
    expect(pool.owns(a)).to.equal(true);
    pool.release(a);
    feed(framer, packet(second));
    const b = framer.next() as Buffer;
    expect(b.equals(second)).to.equal(true);
    expect(b.buffer).to.equal(a.buffer);
  });

  it('never hands out a buffer still in use, and ignores buffers it did not make', function () {
    const pool = new BufferPool(1024, 2);
    const a = pool.get();
    const b = pool.get();
    expect(a.buffer).to.not.equal(b.buffer);
    pool.release(Buffer.allocUnsafeSlow(1024));
    const c = pool.get();
    expect(c.buffer).to.not.equal(a.buffer);
    expect(c.buffer).to.not.equal(b.buffer);
  });

  it('keeps at most `keep` free buffers', function () {
    const pool = new BufferPool(1024, 1);
    const a = pool.get();
    const b = pool.get();
    pool.release(a);
    pool.release(b);
    const c = pool.get();
    const d = pool.get();
    expect(c.buffer).to.equal(a.buffer);
    expect(d.buffer).to.not.equal(b.buffer);
  });

  it('leaves small joined bodies to the allocator', function () {
    const pool = new BufferPool(300 * 1024, 4);
    const framer = new PacketFramer(300 * 1024, pool);
    const body = Buffer.alloc(40 * 1024, 3);
    feed(framer, packet(body));
    const got = framer.next() as Buffer;
    expect(got.equals(body)).to.equal(true);
    expect(pool.owns(got)).to.equal(false);
  });
});
