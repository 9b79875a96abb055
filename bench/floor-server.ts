/**
 * The bench's floor: an SSH server built as MiniFTP's is (ssh2, its native
 * AES-GCM, TCP_NODELAY, limits@openssh.com so OpenSSH's client sends 255 KiB
 * requests) whose SFTP subsystem answers every request from memory and touches
 * no file. Any server on ssh2 spends at least this much per request and per
 * byte; `npm run bench -- --floor` runs it beside the other two, so a bar it
 * cannot meet itself is shown to be out of reach of ssh2 on that machine.
 *
 * Bench-only: it accepts every login and keeps nothing but names and sizes.
 * Started as `node floor-server.js CIPHER[,CIPHER…] [/PATH=BYTES…]` (files
 * that exist from the start, for downloads); prints "listening on
 * 127.0.0.1:PORT".
 */
import * as net from 'node:net';
import { Server, utils, type CipherAlgorithm, type Connection, type ServerChannel } from 'ssh2';
import { PacketFramer, PacketReader, PacketWriter, type Attrs } from '../src/sftp/codec';
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
} from '../src/sftp/replies';

/** What limits@openssh.com announces, as MiniFTP does by default. */
const MAX_IO = DEFAULT_MAX_PACKET - 1024;
/** READ replies are slices of this: the bytes a download receives are all zero. */
const ZEROS = Buffer.alloc(DATA_HEADER + MAX_IO);
const NAMES_PER_READDIR = 100;

type Node = { dir: true } | { dir: false; size: number };
interface Handle {
  path: string;
  /** A directory's entries, listed when it was opened, and how many were sent. */
  entries?: string[];
  sent?: number;
}

function attrsOf(node: Node): Attrs {
  return node.dir
    ? { permissions: 0o40755, size: 4096, uid: 0, gid: 0, atime: 0, mtime: 0 }
    : { permissions: 0o100644, size: node.size, uid: 0, gid: 0, atime: 0, mtime: 0 };
}

/** The tree every session shares: names and sizes only. */
const tree = new Map<string, Node>([['/', { dir: true }]]);

class FloorSession {
  private readonly framer = new PacketFramer(DEFAULT_MAX_PACKET);
  private readonly handles = new Map<string, Handle>();
  private nextHandle = 0;

  constructor(private readonly channel: ServerChannel) {
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
    this.send(this.answer(type, id, r));
  }

  private answer(type: number, id: number, r: PacketReader): Buffer {
    const ok = (): Buffer => statusPacket(id, Status.OK, 'OK');
    const missing = (): Buffer => statusPacket(id, Status.NO_SUCH_FILE, 'no such file');
    switch (type) {
      case PacketType.REALPATH:
        return singleNamePacket(id, normalizeVirtual(r.string()));
      case PacketType.STAT:
      case PacketType.LSTAT: {
        const node = tree.get(normalizeVirtual(r.string()));
        return node ? attrsPacket(id, attrsOf(node)) : missing();
      }
      case PacketType.FSTAT: {
        const node = tree.get(this.handle(r).path);
        return node ? attrsPacket(id, attrsOf(node)) : missing();
      }
      case PacketType.MKDIR:
        tree.set(normalizeVirtual(r.string()), { dir: true });
        return ok();
      case PacketType.OPEN: {
        const p = normalizeVirtual(r.string());
        const flags = r.u32();
        const node = tree.get(p);
        if ((flags & OpenFlag.CREAT) !== 0 && (!node || (flags & OpenFlag.TRUNC) !== 0))
          tree.set(p, { dir: false, size: 0 });
        else if (!node) return missing();
        return this.open(id, { path: p });
      }
      case PacketType.OPENDIR: {
        const p = normalizeVirtual(r.string());
        if (!tree.get(p)?.dir) return missing();
        const prefix = p === '/' ? '/' : `${p}/`;
        const entries = [...tree.keys()].filter(
          (k) =>
            k.startsWith(prefix) && k.length > prefix.length && !k.includes('/', prefix.length),
        );
        return this.open(id, { path: p, entries, sent: 0 });
      }
      case PacketType.WRITE: {
        const node = tree.get(this.handle(r).path);
        const end = r.u64() + r.bytes().length;
        if (node && !node.dir && end > node.size) node.size = end;
        return ok();
      }
      case PacketType.READ: {
        const node = tree.get(this.handle(r).path);
        const offset = r.u64();
        const length = Math.min(r.u32(), MAX_IO);
        const left = node && !node.dir ? node.size - offset : 0;
        if (left <= 0) return statusPacket(id, Status.EOF, 'end of file');
        return Buffer.from(fillDataHeader(ZEROS, id, Math.min(length, left)));
      }
      case PacketType.READDIR:
        return this.readdir(id, this.handle(r));
      case PacketType.CLOSE:
        this.handles.delete(r.string());
        return ok();
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

  private handle(r: PacketReader): Handle {
    return this.handles.get(r.string()) ?? { path: '' };
  }

  private readdir(id: number, h: Handle): Buffer {
    const entries = h.entries ?? [];
    const from = h.sent ?? 0;
    if (from >= entries.length) return statusPacket(id, Status.EOF, 'end of directory');
    h.sent = from + NAMES_PER_READDIR;
    const prefix = h.path === '/' ? 1 : h.path.length + 1;
    return namePacket(
      id,
      entries.slice(from, from + NAMES_PER_READDIR).map((k) => {
        const filename = k.slice(prefix);
        const node = tree.get(k) ?? { dir: false, size: 0 };
        return { filename, longname: filename, attrs: attrsOf(node) };
      }),
    );
  }
}

function onClient(client: Connection): void {
  client.on('error', () => undefined);
  client.on('authentication', (ctx) => ctx.accept());
  client.on('ready', () => {
    client.on('session', (accept) => {
      const session = accept();
      session.on('subsystem', (acceptSub, _reject, info) => {
        if (info.name !== 'sftp') return;
        new FloorSession(acceptSub());
      });
    });
  });
}

function main(): void {
  const ciphers = (process.argv[2] ?? '').split(',') as CipherAlgorithm[];
  for (const preset of process.argv.slice(3)) {
    const [p, bytes] = preset.split('=');
    if (p && bytes) tree.set(normalizeVirtual(p), { dir: false, size: Number(bytes) });
  }
  const key = utils.generateKeyPairSync('ed25519');
  const ssh = new Server({ hostKeys: [key.private], algorithms: { cipher: ciphers } }, onClient);
  const tcp = net.createServer({ noDelay: true }, (socket) => ssh.injectSocket(socket));
  tcp.listen(0, '127.0.0.1', () => {
    const { port } = tcp.address() as net.AddressInfo;
    process.stdout.write(`listening on 127.0.0.1:${port}\n`);
  });
  process.once('SIGTERM', () => process.exit(0));
}

main();
