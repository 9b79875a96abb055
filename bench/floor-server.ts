/**
 * The bench's floor: an SSH server built as MiniFTP's is (ssh2, its native
 * AES-GCM, TCP_NODELAY, limits@openssh.com so OpenSSH's client sends 255 KiB
 * requests) that does the least an SFTP server can. By default its files live
 * in memory: it keeps names and sizes, reads back zeros and touches no file.
 * With `--disk DIR` it keeps real files under DIR instead, each request one
 * blocking call, with no checks, no jail and no bookkeeping.
 * `npm run bench -- --floor` runs it beside the other two, so a bar it cannot
 * meet itself is shown to be out of reach of ssh2 on that machine.
 *
 * Bench-only: it accepts every login. Started as
 * `node floor-server.js CIPHER[,CIPHER…] [--disk DIR] [/PATH=BYTES…]` (files
 * that exist from the start, in memory only); prints "listening on
 * 127.0.0.1:PORT".
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Server, utils, type CipherAlgorithm, type Connection, type ServerChannel } from 'ssh2';
import { PacketFramer, PacketReader, PacketWriter, type Attrs } from '../src/sftp/codec';
import { isErrno } from '../src/errors';
import { attrsFromStats } from '../src/sftp/attrs';
import {
  DEFAULT_MAX_PACKET,
  Ext,
  OpenFlag,
  PacketType,
  SFTP_VERSION,
  Status,
} from '../src/sftp/constants';
import { normalizeVirtual } from '../src/vfs/jail';
import {
  attrsPacket,
  DATA_HEADER,
  fillDataHeader,
  handlePacket,
  limitsReply,
  namePacket,
  singleNamePacket,
  statusPacket,
  type NameEntry,
} from '../src/sftp/replies';

/** What limits@openssh.com announces, as MiniFTP does by default. */
const MAX_IO = DEFAULT_MAX_PACKET - 1024;
const NAMES_PER_READDIR = 100;

/** An open file: its path, and on disk its descriptor. */
interface FileRef {
  path: string;
  fd: number;
}

/** Where the floor keeps files. Paths are virtual ("/a/b"); a missing one throws ENOENT. */
interface FloorStore {
  stat(p: string): Attrs;
  mkdir(p: string): void;
  open(p: string, pflags: number): FileRef;
  fstat(f: FileRef): Attrs;
  write(f: FileRef, offset: number, data: Buffer): void;
  /** Puts up to `length` bytes from `offset` into `into` at `at`; returns how many. */
  read(f: FileRef, offset: number, length: number, into: Buffer, at: number): number;
  close(f: FileRef): void;
  list(p: string): NameEntry[];
}

function missing(): Error {
  return Object.assign(new Error('no such file'), { code: 'ENOENT' });
}

type Node = { dir: true } | { dir: false; size: number };

function attrsOf(node: Node): Attrs {
  return node.dir
    ? { permissions: 0o40755, size: 4096, uid: 0, gid: 0, atime: 0, mtime: 0 }
    : { permissions: 0o100644, size: node.size, uid: 0, gid: 0, atime: 0, mtime: 0 };
}

/** Names and sizes only, shared by every session; a read gives zeros. */
class MemoryStore implements FloorStore {
  private readonly tree = new Map<string, Node>([['/', { dir: true }]]);

  preset(p: string, size: number): void {
    this.tree.set(p, { dir: false, size });
  }

  private node(p: string): Node {
    const node = this.tree.get(p);
    if (!node) throw missing();
    return node;
  }

  stat(p: string): Attrs {
    return attrsOf(this.node(p));
  }

  mkdir(p: string): void {
    this.tree.set(p, { dir: true });
  }

  open(p: string, pflags: number): FileRef {
    const node = this.tree.get(p);
    if ((pflags & OpenFlag.CREAT) !== 0 && (!node || (pflags & OpenFlag.TRUNC) !== 0))
      this.tree.set(p, { dir: false, size: 0 });
    else if (!node) throw missing();
    return { path: p, fd: -1 };
  }

  fstat(f: FileRef): Attrs {
    return this.stat(f.path);
  }

  write(f: FileRef, offset: number, data: Buffer): void {
    const node = this.node(f.path);
    const end = offset + data.length;
    if (!node.dir && end > node.size) node.size = end;
  }

  read(f: FileRef, offset: number, length: number, into: Buffer, at: number): number {
    const node = this.node(f.path);
    const n = node.dir ? 0 : Math.max(0, Math.min(length, node.size - offset));
    into.fill(0, at, at + n);
    return n;
  }

  close(): void {}

  list(p: string): NameEntry[] {
    if (!this.node(p).dir) throw missing();
    const prefix = p === '/' ? '/' : `${p}/`;
    const entries: NameEntry[] = [];
    for (const [k, node] of this.tree) {
      if (k.startsWith(prefix) && k.length > prefix.length && !k.includes('/', prefix.length)) {
        const filename = k.slice(prefix.length);
        entries.push({ filename, longname: filename, attrs: attrsOf(node) });
      }
    }
    return entries;
  }
}

/** Real files under `root`, one blocking call per request (a listing: one per name). */
class DiskStore implements FloorStore {
  constructor(private readonly root: string) {}

  private real(p: string): string {
    return path.join(this.root, p);
  }

  stat(p: string): Attrs {
    return attrsFromStats(fs.lstatSync(this.real(p)));
  }

  mkdir(p: string): void {
    fs.mkdirSync(this.real(p));
  }

  open(p: string, pflags: number): FileRef {
    let flags = (pflags & OpenFlag.WRITE) !== 0 ? fs.constants.O_RDWR : fs.constants.O_RDONLY;
    if ((pflags & OpenFlag.CREAT) !== 0) flags |= fs.constants.O_CREAT;
    if ((pflags & OpenFlag.TRUNC) !== 0) flags |= fs.constants.O_TRUNC;
    return { path: p, fd: fs.openSync(this.real(p), flags, 0o644) };
  }

  fstat(f: FileRef): Attrs {
    return attrsFromStats(fs.fstatSync(f.fd));
  }

  write(f: FileRef, offset: number, data: Buffer): void {
    fs.writeSync(f.fd, data, 0, data.length, offset);
  }

  read(f: FileRef, offset: number, length: number, into: Buffer, at: number): number {
    return fs.readSync(f.fd, into, at, length, offset);
  }

  close(f: FileRef): void {
    fs.closeSync(f.fd);
  }

  list(p: string): NameEntry[] {
    const dir = this.real(p);
    return fs.readdirSync(dir).map((filename) => ({
      filename,
      longname: filename,
      attrs: attrsFromStats(fs.lstatSync(path.join(dir, filename))),
    }));
  }
}

type Handle = { file: FileRef } | { entries: NameEntry[]; sent: number };

class FloorSession {
  private readonly framer = new PacketFramer(DEFAULT_MAX_PACKET);
  private readonly handles = new Map<string, Handle>();
  private nextHandle = 0;

  constructor(
    private readonly channel: ServerChannel,
    private readonly store: FloorStore,
  ) {
    channel.on('data', (chunk: Buffer) => {
      this.framer.push(chunk);
      for (let body = this.framer.next(); body; body = this.framer.next()) this.onPacket(body);
    });
    // Replies wait in the channel while the client's window is shut: stop reading meanwhile.
    channel.on('drain', () => channel.resume());
    channel.on('end', () => channel.end());
  }

  private send(packet: Buffer): void {
    if (!this.channel.write(packet)) this.channel.pause();
  }

  private onPacket(body: Buffer): void {
    const type = body[0] as number;
    const r = new PacketReader(body, 1);
    if (type === PacketType.INIT) {
      this.send(
        new PacketWriter(PacketType.VERSION)
          .u32(SFTP_VERSION)
          .string(Ext.LIMITS)
          .string('1')
          .finish(),
      );
      return;
    }
    const id = r.u32();
    let reply: Buffer;
    try {
      reply = this.answer(type, id, r);
    } catch (err) {
      reply =
        isErrno(err) && err.code === 'ENOENT'
          ? statusPacket(id, Status.NO_SUCH_FILE, 'no such file')
          : statusPacket(id, Status.FAILURE, String(err));
    }
    this.send(reply);
  }

  private answer(type: number, id: number, r: PacketReader): Buffer {
    const ok = (): Buffer => statusPacket(id, Status.OK, 'OK');
    const store = this.store;
    switch (type) {
      case PacketType.REALPATH:
        return singleNamePacket(id, normalizeVirtual(r.string()));
      case PacketType.STAT:
      case PacketType.LSTAT:
        return attrsPacket(id, store.stat(normalizeVirtual(r.string())));
      case PacketType.FSTAT:
        return attrsPacket(id, store.fstat(this.file(r)));
      case PacketType.MKDIR:
        store.mkdir(normalizeVirtual(r.string()));
        return ok();
      case PacketType.OPEN: {
        const p = normalizeVirtual(r.string());
        return this.open(id, { file: store.open(p, r.u32()) });
      }
      case PacketType.OPENDIR:
        return this.open(id, { entries: store.list(normalizeVirtual(r.string())), sent: 0 });
      case PacketType.WRITE: {
        const file = this.file(r);
        store.write(file, r.u64(), r.bytes());
        return ok();
      }
      case PacketType.READ: {
        const file = this.file(r);
        const offset = r.u64();
        const length = Math.min(r.u32(), MAX_IO);
        const into = Buffer.allocUnsafe(DATA_HEADER + length);
        const n = store.read(file, offset, length, into, DATA_HEADER);
        if (n === 0) return statusPacket(id, Status.EOF, 'end of file');
        return fillDataHeader(into, id, n);
      }
      case PacketType.READDIR:
        return this.readdir(id, r);
      case PacketType.CLOSE: {
        const key = r.string();
        const h = this.handles.get(key);
        this.handles.delete(key);
        if (h && 'file' in h) store.close(h.file);
        return ok();
      }
      case PacketType.SETSTAT:
      case PacketType.FSETSTAT:
        return ok();
      case PacketType.EXTENDED:
        if (r.string() === Ext.LIMITS) return limitsReply(id, DEFAULT_MAX_PACKET, 1024);
        return statusPacket(id, Status.OP_UNSUPPORTED, 'unsupported');
      default:
        return statusPacket(id, Status.OP_UNSUPPORTED, 'unsupported');
    }
  }

  private open(id: number, h: Handle): Buffer {
    const handle = String(this.nextHandle++);
    this.handles.set(handle, h);
    return handlePacket(id, handle);
  }

  private file(r: PacketReader): FileRef {
    const h = this.handles.get(r.string());
    if (!h || !('file' in h)) throw new Error('invalid handle');
    return h.file;
  }

  private readdir(id: number, r: PacketReader): Buffer {
    const h = this.handles.get(r.string());
    if (!h || !('entries' in h)) throw new Error('invalid handle');
    if (h.sent >= h.entries.length) return statusPacket(id, Status.EOF, 'end of directory');
    const from = h.sent;
    h.sent += NAMES_PER_READDIR;
    return namePacket(id, h.entries.slice(from, h.sent));
  }
}

function onClient(client: Connection, store: FloorStore): void {
  client.on('error', () => undefined);
  client.on('authentication', (ctx) => ctx.accept());
  client.on('ready', () => {
    client.on('session', (accept) => {
      const session = accept();
      session.on('subsystem', (acceptSub, _reject, info) => {
        if (info.name !== 'sftp') return;
        new FloorSession(acceptSub(), store);
      });
    });
  });
}

function storeFromArgs(args: string[]): FloorStore {
  if (args[0] === '--disk' && args[1]) return new DiskStore(args[1]);
  const memory = new MemoryStore();
  for (const preset of args) {
    const [p, bytes] = preset.split('=');
    if (p && bytes) memory.preset(normalizeVirtual(p), Number(bytes));
  }
  return memory;
}

function main(): void {
  const ciphers = (process.argv[2] ?? '').split(',') as CipherAlgorithm[];
  const store = storeFromArgs(process.argv.slice(3));
  const key = utils.generateKeyPairSync('ed25519');
  const ssh = new Server({ hostKeys: [key.private], algorithms: { cipher: ciphers } }, (c) =>
    onClient(c, store),
  );
  const tcp = net.createServer({ noDelay: true }, (socket) => ssh.injectSocket(socket));
  tcp.listen(0, '127.0.0.1', () => {
    const { port } = tcp.address() as net.AddressInfo;
    process.stdout.write(`listening on 127.0.0.1:${port}\n`);
  });
  process.once('SIGTERM', () => process.exit(0));
}

main();
