/** Builders for the server's reply packets. */
import type { Stats } from 'node:fs';
import { PacketType, Status, type StatusCode } from './constants';
import { PacketWriter, type Attrs } from './codec';

export function statusPacket(id: number, code: StatusCode, message: string): Buffer {
  return new PacketWriter(PacketType.STATUS, 32 + message.length)
    .u32(id)
    .u32(code)
    .string(message)
    .string('en')
    .finish();
}

/** Waits for `op` and answers STATUS OK; its error, if any, is answered by the caller. */
export async function okAfter(id: number, op: Promise<void>): Promise<Buffer> {
  await op;
  return statusPacket(id, Status.OK, 'OK');
}

export function handlePacket(id: number, handle: string): Buffer {
  return new PacketWriter(PacketType.HANDLE).u32(id).string(handle).finish();
}

export function attrsPacket(id: number, attrs: Attrs): Buffer {
  return new PacketWriter(PacketType.ATTRS).u32(id).attrs(attrs).finish();
}

export interface NameEntry {
  filename: string;
  longname: string;
  attrs: Attrs;
}

export function namePacket(id: number, entries: NameEntry[]): Buffer {
  const w = new PacketWriter(PacketType.NAME, 128 * (entries.length + 1))
    .u32(id)
    .u32(entries.length);
  for (const e of entries) w.string(e.filename).string(e.longname).attrs(e.attrs);
  return w.finish();
}

/** A NAME reply with one entry, as REALPATH, READLINK and expand-path send. */
export function singleNamePacket(id: number, name: string, attrs: Attrs = {}): Buffer {
  return namePacket(id, [{ filename: name, longname: name, attrs }]);
}

export function extendedReply(id: number): PacketWriter {
  return new PacketWriter(PacketType.EXTENDED_REPLY).u32(id);
}

/** The limits@openssh.com reply: packet, read and write sizes, open handles. */
export function limitsReply(id: number, maxPacket: number, maxHandles: number): Buffer {
  return extendedReply(id)
    .u64(maxPacket)
    .u64(maxPacket - 1024)
    .u64(maxPacket - 1024)
    .u64(maxHandles)
    .finish();
}

/** Header for a DATA reply whose payload is read straight into the same buffer after it. */
export const DATA_HEADER = 13;

export function fillDataHeader(buf: Buffer, id: number, length: number): Buffer {
  buf.writeUInt32BE(DATA_HEADER - 4 + length, 0);
  buf[4] = PacketType.DATA;
  buf.writeUInt32BE(id, 5);
  buf.writeUInt32BE(length, 9);
  return buf.subarray(0, DATA_HEADER + length);
}

export type { Stats };
