/**
 * The shapes of the server's replies: each function reads one kind (STATUS,
 * HANDLE, ATTRS, NAME, DATA, EXTENDED_REPLY) and turns a STATUS other than OK
 * into the client's error for it.
 */
import { type Attrs, PacketReader } from '../sftp/codec';
import { PacketType, Status } from '../sftp/constants';
import { type ClientError, ProtocolError, errorFromStatus } from './errors';

export interface DirEntry {
  filename: string;
  longname: string;
  attrs: Attrs;
}

export interface Reply {
  type: number;
  reader: PacketReader;
}

export function readStatus(reader: PacketReader): { code: number; message: string } {
  const code = reader.u32();
  // Some servers omit the message and language tag (draft-02 clients must accept that).
  const message = reader.remaining >= 4 ? reader.string() : '';
  return { code, message };
}

/** The error a STATUS reply stands for; undefined for OK and for other reply types. */
export function statusError(reply: Reply, offset?: number): ClientError | undefined {
  if (reply.type !== PacketType.STATUS) return undefined;
  const { code, message } = readStatus(reply.reader);
  if (code === Status.OK) return undefined;
  return errorFromStatus(code, message, offset);
}

function unexpected(reply: Reply, wanted: string): ProtocolError {
  return new ProtocolError(`expected ${wanted}, the server sent packet type ${reply.type}`);
}

/** The reader of a reply of `type`; a STATUS becomes its error. */
function expect(reply: Reply, type: number, name: string): PacketReader {
  const err = statusError(reply);
  if (err) throw err;
  if (reply.type !== type) throw unexpected(reply, name);
  return reply.reader;
}

export function ok(reply: Reply): void {
  expect(reply, PacketType.STATUS, 'STATUS');
}

export function handle(reply: Reply): Buffer {
  return Buffer.from(expect(reply, PacketType.HANDLE, 'HANDLE').bytes());
}

export function attrs(reply: Reply): Attrs {
  return expect(reply, PacketType.ATTRS, 'ATTRS').attrs();
}

/** For READ and READDIR: null on EOF, an error for any other STATUS. */
function eofOrThrow(reply: Reply): null {
  const { code, message } = readStatus(reply.reader);
  if (code === Status.EOF) return null;
  if (code === Status.OK) throw unexpected(reply, 'data or EOF');
  throw errorFromStatus(code, message);
}

export function names(reply: Reply): DirEntry[] | null {
  if (reply.type === PacketType.STATUS) return eofOrThrow(reply);
  const r = expect(reply, PacketType.NAME, 'NAME');
  const count = r.u32();
  const entries: DirEntry[] = [];
  for (let i = 0; i < count; i++) {
    entries.push({ filename: r.string(), longname: r.string(), attrs: r.attrs() });
  }
  return entries;
}

export function data(reply: Reply): Buffer | null {
  if (reply.type === PacketType.STATUS) return eofOrThrow(reply);
  return expect(reply, PacketType.DATA, 'DATA').bytes();
}

/** EXTENDED_REPLY: the reader after the id; STATUS OK: an empty reader. */
export function extendedReply(reply: Reply): PacketReader {
  const err = statusError(reply);
  if (err) throw err;
  if (reply.type === PacketType.STATUS) return new PacketReader(Buffer.alloc(0));
  return expect(reply, PacketType.EXTENDED_REPLY, 'EXTENDED_REPLY');
}
