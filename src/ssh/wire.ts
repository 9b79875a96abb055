/**
 * The two messages that tell a client why it is turned away during login:
 * SSH_MSG_USERAUTH_BANNER (OpenSSH prints it at its default log level) and
 * SSH_MSG_DISCONNECT with a description (OpenSSH prints "Received disconnect
 * from …: <description>" even with LogLevel=ERROR). ssh2's server sends its
 * banner only before the first attempt and its DISCONNECT without a
 * description, so these are written here through ssh2's own packet writer
 * and cipher. When that is not possible (ssh2 changed, or a key exchange is
 * under way and packets must wait) they return false and the caller just
 * ends the connection.
 */
import type { Connection } from 'ssh2';

const MSG_DISCONNECT = 1;
const MSG_USERAUTH_BANNER = 53;
/**
 * RFC 4253, section 11.1. "By application" is the usual reason: ssh2's client
 * turns any other into an 'error' event, which after a failed login would be
 * its second, for clients listening with once('error').
 */
export const DISCONNECT_BY_APPLICATION = 11;
/** For a login turned away before any failure: ssh2's clients report it as an error with the text. */
export const DISCONNECT_TOO_MANY_CONNECTIONS = 12;

interface PacketWriter {
  allocStart: number;
  alloc(size: number, force?: boolean): Buffer;
  finalize(packet: Buffer, force?: boolean): Buffer;
}

interface ProtocolInternals {
  _kexinit?: unknown;
  _packetRW?: { write?: PacketWriter };
  _cipher?: { encrypt(packet: Buffer): void };
}

function protocolOf(client: Connection): ProtocolInternals | undefined {
  const proto = (client as unknown as { _protocol?: ProtocolInternals })._protocol;
  if (!proto || proto._kexinit !== undefined) return undefined;
  if (typeof proto._packetRW?.write?.alloc !== 'function') return undefined;
  if (typeof proto._cipher?.encrypt !== 'function') return undefined;
  return proto;
}

/** Sends one message: its type byte, then `fields` (numbers as uint32, strings as SSH strings). */
function send(client: Connection, type: number, fields: Array<number | string>): boolean {
  const proto = protocolOf(client);
  const writer = proto?._packetRW?.write;
  const cipher = proto?._cipher;
  if (!writer || !cipher) return false;
  const parts = fields.map((f) => (typeof f === 'number' ? f : Buffer.from(f, 'utf8')));
  let size = 1;
  for (const f of parts) size += 4 + (typeof f === 'number' ? 0 : f.length);
  let p = writer.allocStart;
  const packet = writer.alloc(size);
  packet[p++] = type;
  for (const f of parts) {
    if (typeof f === 'number') {
      packet.writeUInt32BE(f, p);
      p += 4;
    } else {
      packet.writeUInt32BE(f.length, p);
      f.copy(packet, p + 4);
      p += 4 + f.length;
    }
  }
  cipher.encrypt(writer.finalize(packet));
  return true;
}

/** Text shown to the user during login (SSH_MSG_USERAUTH_BANNER); false when it could not be sent. */
export function sendAuthBanner(client: Connection, text: string): boolean {
  return send(client, MSG_USERAUTH_BANNER, [text, '']);
}

/** SSH_MSG_DISCONNECT with `description`; false when it could not be sent. */
export function sendDisconnect(
  client: Connection,
  description: string,
  reason = DISCONNECT_BY_APPLICATION,
): boolean {
  return send(client, MSG_DISCONNECT, [reason, description, '']);
}

type ServiceRequestHandler = (proto: unknown, name: string) => void;

interface ServiceInternals {
  _handlers?: Record<string, unknown>;
  serviceAccept?: (name: string) => void;
}

/**
 * Lets a client ask for the "ssh-userauth" service again before it has logged
 * in, as OpenSSH's server does. paramiko asks before each method it tries, and
 * ssh2's server disconnects on the second request: paramiko with a key that is
 * not on file never got to try its password. Once logged in, the request goes
 * to ssh2, which refuses it. False when ssh2's internals are not as expected.
 */
export function allowRepeatedUserauthService(client: Connection): boolean {
  const proto = (client as unknown as { _protocol?: ServiceInternals })._protocol;
  const handlers = proto?._handlers;
  const original = handlers?.SERVICE_REQUEST;
  const accept = proto?.serviceAccept;
  if (!proto || !handlers || typeof original !== 'function' || typeof accept !== 'function') {
    return false;
  }
  const forward = original as ServiceRequestHandler;
  let asked = false;
  const loggedIn = (): boolean =>
    (client as unknown as { authenticated?: boolean }).authenticated === true;
  handlers.SERVICE_REQUEST = (p: unknown, name: string): void => {
    if (asked && name === 'ssh-userauth' && !loggedIn()) {
      accept.call(proto, name);
      return;
    }
    if (name === 'ssh-userauth') asked = true;
    forward(p, name);
  };
  return true;
}
