/**
 * A model of SFTP requests for property-based fuzzing: generators of every
 * request type with plausible and hostile fields, byte-level mutations (bad
 * lengths, truncation, flipped bytes, lying strings), and the check that a
 * session's replies fit what was sent.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { PacketReader, PacketWriter, type Attrs } from '../../src/sftp/codec';
import { Ext, OpenFlag, PacketType, Status } from '../../src/sftp/constants';

export const INIT = new PacketWriter(PacketType.INIT).u32(3).finish();

export const REPLY_TYPES = new Set<number>([
  PacketType.STATUS,
  PacketType.HANDLE,
  PacketType.DATA,
  PacketType.NAME,
  PacketType.ATTRS,
  PacketType.EXTENDED_REPLY,
]);

type Field =
  | { k: 'u32'; v: number }
  | { k: 'u64'; v: bigint }
  | { k: 'str'; v: Buffer; lie?: number }
  | { k: 'attrs'; a: Attrs }
  | { k: 'rawAttrs'; flags: number; values: bigint[]; count?: number };

export interface Packet {
  type: number;
  id: number;
  fields: Field[];
  mutation: Mutation;
}

type Mutation =
  | { k: 'none' }
  | { k: 'truncate'; keep: number }
  | { k: 'length'; v: number }
  | { k: 'flip'; at: number; xor: number }
  | { k: 'trailing'; extra: Buffer };

/** Names a test may create in the home first: f1, dir/f2, a FIFO, a link pointing outside. */
const NAMES = ['f1', '/f1', 'dir', 'dir/f2', 'new', 'dir/new', 'fifo', 'link-out', 'nope'];
const HOSTILE = ['../../etc/passwd', '/..', '', '.', '//', 'a\u0000b', '~', '~root/x', 'é/ü'];

const pathArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...NAMES).map((s) => Buffer.from(s)) },
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE).map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)) },
);
const handleArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('1', '2', '3', '4', '5').map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
);
const u32Arb = fc.oneof(
  fc.constantFrom(0, 1, 255, 256, 32768, 0x7fffffff, 0xffffffff),
  fc.nat({ max: 0xffffffff }),
);
const u64Arb = fc.oneof(
  fc.constantFrom(0n, 1n, 4096n, 2n ** 31n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n),
  fc.bigInt({ min: 0n, max: 2n ** 24n }),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
);
const strField = (arb: fc.Arbitrary<Buffer>): fc.Arbitrary<Field> =>
  fc
    .record({
      v: arb,
      lie: fc.oneof(
        { weight: 30, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.oneof(u32Arb, fc.nat({ max: 64 })) },
      ),
    })
    .map(({ v, lie }): Field => ({ k: 'str', v, lie }));
const pathF = strField(pathArb);
const handleF = strField(handleArb);
const u32F = u32Arb.map((v): Field => ({ k: 'u32', v }));
const u64F = u64Arb.map((v): Field => ({ k: 'u64', v }));
const dataF = strField(fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)));
const u32Num = fc.nat({ max: 0xffffffff });
/** Permissions here include type, setuid, setgid and sticky bits. */
const modeArb = fc.oneof(
  fc.constantFrom(0o7777, 0o4755, 0o2755, 0o1777, 0o170777, 0o644, 0),
  u32Num,
);
const sizeArb = fc.oneof(
  fc.nat({ max: 1 << 20 }),
  fc.constantFrom(0, 2 ** 25, 2 ** 40, Number.MAX_SAFE_INTEGER),
);
const attrsF: fc.Arbitrary<Field> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record(
        {
          size: sizeArb,
          uid: u32Num,
          gid: u32Num,
          permissions: modeArb,
          atime: u32Num,
          mtime: u32Num,
          extended: fc.array(
            fc.tuple(
              fc.string({ maxLength: 10 }),
              fc.uint8Array({ maxLength: 10 }).map((a) => Buffer.from(a)),
            ),
            { maxLength: 3 },
          ),
        },
        { requiredKeys: [] },
      )
      .map((a): Field => ({ k: 'attrs', a })),
  },
  {
    // Flags that promise fields which are not there, or an absurd extension count.
    weight: 1,
    arbitrary: fc
      .record({
        flags: u32Arb,
        values: fc.array(u64Arb, { maxLength: 4 }),
        count: fc.option(u32Arb, { nil: undefined }),
      })
      .map((r): Field => ({ k: 'rawAttrs', ...r })),
  },
);
const algF = strField(
  fc
    .constantFrom('md5', 'sha1', 'sha256,md5', 'sha512', 'crc32', '', 'MD5')
    .map((s) => Buffer.from(s)),
);

function ext(name: string, ...rest: Array<fc.Arbitrary<Field>>): fc.Arbitrary<Field[]> {
  return fc.tuple(fc.constant<Field>({ k: 'str', v: Buffer.from(name) }), ...rest);
}

/** Each request type with the fields it should carry (mutations break them later). */
const requestArb: fc.Arbitrary<{ type: number; fields: Field[] }> = fc.oneof(
  ...[
    fc.tuple(fc.constant(PacketType.OPEN), fc.tuple(pathF, openFlagsF(), attrsF)),
    fc.tuple(fc.constant(PacketType.CLOSE), fc.tuple(handleF)),
    fc.tuple(fc.constant(PacketType.READ), fc.tuple(handleF, u64F, u32F)),
    fc.tuple(fc.constant(PacketType.WRITE), fc.tuple(handleF, u64F, dataF)),
    fc.tuple(fc.constantFrom(PacketType.LSTAT, PacketType.STAT), fc.tuple(pathF)),
    fc.tuple(fc.constantFrom(PacketType.FSTAT, PacketType.READDIR), fc.tuple(handleF)),
    fc.tuple(fc.constant(PacketType.SETSTAT), fc.tuple(pathF, attrsF)),
    fc.tuple(fc.constant(PacketType.FSETSTAT), fc.tuple(handleF, attrsF)),
    fc.tuple(
      fc.constantFrom(
        PacketType.OPENDIR,
        PacketType.REMOVE,
        PacketType.RMDIR,
        PacketType.REALPATH,
        PacketType.READLINK,
      ),
      fc.tuple(pathF),
    ),
    fc.tuple(fc.constant(PacketType.MKDIR), fc.tuple(pathF, attrsF)),
    fc.tuple(fc.constantFrom(PacketType.RENAME, PacketType.SYMLINK), fc.tuple(pathF, pathF)),
    fc.tuple(
      fc.constant(PacketType.EXTENDED),
      fc.oneof(
        ext(Ext.POSIX_RENAME, pathF, pathF),
        ext(Ext.HARDLINK, pathF, pathF),
        ext(Ext.STATVFS, pathF),
        ext(Ext.FSTATVFS, handleF),
        ext(Ext.FSYNC, handleF),
        ext(Ext.LSETSTAT, pathF, attrsF),
        ext(Ext.LIMITS),
        ext(Ext.EXPAND_PATH, pathF),
        ext(Ext.HOME_DIRECTORY, pathF),
        ext(Ext.USERS_GROUPS_BY_ID, dataF, dataF),
        ext(Ext.COPY_DATA, handleF, u64F, u64F, handleF, u64F),
        ext(Ext.CHECK_FILE, handleF, algF, u64F, u64F, u32F),
        ext(Ext.CHECK_FILE_HANDLE, handleF, algF, u64F, u64F, u32F),
        ext(Ext.CHECK_FILE_NAME, pathF, algF, u64F, u64F, u32F),
        ext(
          Ext.RESUME_UPLOAD,
          pathF,
          u64F,
          strField(fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a))),
        ),
        fc.tuple(strField(fc.string({ maxLength: 30 }).map((s) => Buffer.from(s))), dataF),
      ),
    ),
    // Unknown, reply-only and handshake types, with whatever follows.
    fc.tuple(
      fc.oneof(fc.constantFrom(0, 1, 2, 21, 100, 101, 102, 199, 201, 255), fc.nat({ max: 255 })),
      fc.array(fc.oneof(u32F, u64F, pathF), { maxLength: 4 }),
    ),
  ].map((a) => a.map(([type, fields]) => ({ type, fields: [...fields] }))),
);

function openFlagsF(): fc.Arbitrary<Field> {
  return fc.oneof(
    fc
      .subarray([
        OpenFlag.READ,
        OpenFlag.WRITE,
        OpenFlag.APPEND,
        OpenFlag.CREAT,
        OpenFlag.TRUNC,
        OpenFlag.EXCL,
      ])
      .map((bits): Field => ({ k: 'u32', v: bits.reduce((a, b) => a | b, 0) })),
    u32F,
  );
}

function mutationArb(clean: number): fc.Arbitrary<Mutation> {
  return fc.oneof(
    { weight: clean, arbitrary: fc.constant<Mutation>({ k: 'none' }) },
    {
      weight: 2,
      arbitrary: fc.nat({ max: 60 }).map((keep): Mutation => ({ k: 'truncate', keep })),
    },
    { weight: 1, arbitrary: u32Arb.map((v): Mutation => ({ k: 'length', v })) },
    {
      weight: 2,
      arbitrary: fc
        .record({ at: fc.nat({ max: 80 }), xor: fc.integer({ min: 1, max: 255 }) })
        .map((m): Mutation => ({ k: 'flip', ...m })),
    },
    {
      weight: 1,
      arbitrary: fc
        .uint8Array({ minLength: 1, maxLength: 16 })
        .map((a): Mutation => ({ k: 'trailing', extra: Buffer.from(a) })),
    },
  );
}

/** `clean`: weight of an unmutated packet against 7 for the mutations together. */
export function packetArb(clean: number): fc.Arbitrary<Packet> {
  return fc
    .tuple(requestArb, fc.nat({ max: 0xffffffff }), mutationArb(clean))
    .map(([req, id, mutation]) => ({ ...req, id, mutation }));
}

function body(p: Packet): Buffer {
  const w = new PacketWriter(p.type, 128).u32(p.id);
  for (const f of p.fields) {
    switch (f.k) {
      case 'u32':
        w.u32(f.v);
        break;
      case 'u64':
        w.raw(u64(f.v));
        break;
      case 'str':
        // A lying string claims a length other than the bytes that follow.
        if (f.lie !== undefined) w.u32(f.lie).raw(f.v);
        else w.bytes(f.v);
        break;
      case 'attrs':
        w.attrs(f.a);
        break;
      case 'rawAttrs': {
        w.u32(f.flags);
        for (const v of f.values) w.raw(u64(v));
        if (f.count !== undefined) w.u32(f.count);
        break;
      }
    }
  }
  return w.finish().subarray(4);
}

function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
}

/** The packet as sent: uint32 length then the body, after its mutation. */
export function frame(p: Packet): Buffer {
  let b = body(p);
  const m = p.mutation;
  let length = -1;
  if (m.k === 'truncate') b = b.subarray(0, Math.max(5, Math.min(b.length, m.keep)));
  if (m.k === 'flip' && m.at < b.length) {
    b = Buffer.from(b);
    b[m.at] = (b[m.at] as number) ^ m.xor;
  }
  if (m.k === 'trailing') b = Buffer.concat([b, m.extra]);
  if (m.k === 'length') length = m.v;
  const head = Buffer.alloc(4);
  head.writeUInt32BE(length === -1 ? b.length : length);
  return Buffer.concat([head, b]);
}

/** What the server can see in the stream: the ids of whole packets, and whether framing held. */
export function frameModel(
  stream: Buffer,
  maxPacket: number,
): { ids: number[]; wellFramed: boolean } {
  const ids: number[] = [];
  let pos = 0;
  while (pos < stream.length) {
    if (stream.length - pos < 4) return { ids, wellFramed: false };
    const len = stream.readUInt32BE(pos);
    if (len > maxPacket || len < 5 || pos + 4 + len > stream.length)
      return { ids, wellFramed: false };
    const type = stream[pos + 4] as number;
    if (type === PacketType.INIT) return { ids, wellFramed: false };
    ids.push(stream.readUInt32BE(pos + 5));
    pos += 4 + len;
  }
  return { ids, wellFramed: true };
}

/**
 * Checks a session's replies (VERSION first) against the stream sent after
 * INIT: every reply a well-formed answer to a request that was sent, no id
 * answered more often than sent, no message naming `secret`; and when the
 * stream was well framed and the server did not give up on it (`gaveUp`:
 * unknown for a remote server), every request answered.
 */
export function checkReplies(o: {
  stream: Buffer;
  replies: Buffer[];
  maxPacket: number;
  gaveUp: boolean | undefined;
  secret: string;
}): void {
  const [version, ...rest] = o.replies;
  expect(version?.[0], 'the first reply is VERSION').to.equal(PacketType.VERSION);
  const { ids, wellFramed } = frameModel(o.stream, o.maxPacket);
  const sent = new Map<number, number>();
  for (const id of ids) sent.set(id, (sent.get(id) ?? 0) + 1);
  const answered = new Map<number, number>();
  for (const r of rest) {
    expect(REPLY_TYPES.has(r[0] as number), `reply type ${r[0]}`).to.equal(true);
    const reader = new PacketReader(r, 1);
    const id = reader.u32();
    answered.set(id, (answered.get(id) ?? 0) + 1);
    expect(answered.get(id), `id ${id} answered more often than sent`).to.be.at.most(
      sent.get(id) ?? 0,
    );
    if (r[0] === PacketType.STATUS) {
      const code = reader.u32();
      expect(code).to.be.within(Status.OK, Status.OP_UNSUPPORTED);
      expect(reader.string(), 'a real path in a message').to.not.include(o.secret);
    }
  }
  if (wellFramed && o.gaveUp === false) {
    expect(rest.length, 'every request of a well-framed stream is answered').to.equal(ids.length);
  }
}
