/**
 * The PROXY protocol header a TCP balancer (HAProxy's `send-proxy` and
 * `send-proxy-v2`) puts in front of the client's bytes to say whose connection
 * it relays: version 1, one text line, and version 2, a binary block with
 * optional TLVs. Reads a header from the first bytes of a connection, or says
 * that more bytes are needed, or why they are not a header.
 */
import * as net from 'node:net';
import { buf as crc32c } from 'crc-32/crc32c';

/** The 12 bytes every version 2 header starts with. */
export const V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** The longest version 1 line, CR LF included ("PROXY UNKNOWN" with two full IPv6 addresses). */
export const V1_MAX_BYTES = 107;
/** Fixed part of a version 2 header: signature, version and command, family, length. */
const V2_FIXED = 16;
/**
 * The most address and TLV bytes accepted after the fixed part. A UNIX-socket
 * address takes 216; balancers add a few TLVs (ALPN, authority, unique id of
 * up to 128 bytes, SSL details): 2 KiB leaves room for all of them.
 */
export const V2_MAX_BODY = 2048;
/** The most bytes a header can take, so a reader knows when to give up. */
export const MAX_HEADER_BYTES = V2_FIXED + V2_MAX_BODY;

/** TLV types the version 2 specification names. */
export const TLV = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  NETNS: 0x30,
} as const;

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export interface ProxyTlv {
  readonly type: number;
  readonly value: Buffer;
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /**
   * 'proxy': the balancer relays a client's connection. 'local': the
   * balancer's own connection (a health check); it tells no addresses.
   */
  readonly command: 'proxy' | 'local';
  /**
   * The client's address and port, for a relayed TCP connection over IPv4 or
   * IPv6; undefined when the header does not tell it (version 1 UNKNOWN,
   * version 2 UNSPEC or a UNIX socket), and the connection's own is used.
   */
  readonly source: Endpoint | undefined;
  readonly destination: Endpoint | undefined;
  /** Version 2 only: the TLVs after the addresses, in order (NOOP included). */
  readonly tlvs: readonly ProxyTlv[];
  /** Bytes the header takes at the start of the connection. */
  readonly length: number;
}

export type HeaderParse =
  | { readonly status: 'complete'; readonly header: ProxyHeader }
  | { readonly status: 'incomplete' }
  | { readonly status: 'invalid'; readonly reason: string };

const INCOMPLETE: HeaderParse = { status: 'incomplete' };

function invalid(reason: string): HeaderParse {
  return { status: 'invalid', reason };
}

/** True when `a` is a prefix of `b` or `b` of `a`. */
function agrees(a: Buffer, b: Buffer): boolean {
  const n = Math.min(a.length, b.length);
  return a.subarray(0, n).equals(b.subarray(0, n));
}

/**
 * Reads the header at the start of `data`, the bytes received so far.
 * 'incomplete' while they are the beginning of a header that may still be
 * valid; 'invalid' with the reason as soon as they cannot be one.
 */
export function parseProxyHeader(data: Buffer): HeaderParse {
  if (data.length === 0) return INCOMPLETE;
  if (agrees(data, V1_PREFIX)) return data.length < V1_PREFIX.length ? INCOMPLETE : parseV1(data);
  if (agrees(data, V2_SIGNATURE)) return parseV2(data);
  if (agrees(data, Buffer.from('SSH-', 'latin1'))) {
    return invalid('the connection starts with SSH, not with a PROXY header');
  }
  return invalid('the connection does not start with a PROXY header');
}

const PORT = /^(0|[1-9][0-9]{0,4})$/;

function endpoint(address: string, port: string, family: 'ipv4' | 'ipv6'): Endpoint | undefined {
  if (!PORT.test(port) || Number(port) > 65535) return undefined;
  if (family === 'ipv4' ? !net.isIPv4(address) : !net.isIPv6(address)) return undefined;
  return { address: canonical(address, family), port: Number(port) };
}

/** One spelling per address ("2001:DB8:0::1" and "2001:db8::1" are one client for bans). */
function canonical(address: string, family: 'ipv4' | 'ipv6'): string {
  return new net.SocketAddress({ address, family }).address;
}

/** "PROXY TCP4 192.0.2.1 198.51.100.1 56324 22\r\n", or "PROXY UNKNOWN…\r\n". */
function parseV1(data: Buffer): HeaderParse {
  const window = data.subarray(0, V1_MAX_BYTES);
  const end = window.indexOf('\r\n', 0, 'latin1');
  if (end < 0) {
    if (data.length >= V1_MAX_BYTES) return invalid('PROXY line longer than 107 bytes');
    // A bare LF, or any byte that is not printable ASCII, ends the hope early.
    if (window.some((b) => b === 0x0a || (b !== 0x0d && (b < 0x20 || b > 0x7e)))) {
      return invalid('PROXY line with a byte that is not printable ASCII');
    }
    return INCOMPLETE;
  }
  const line = window.subarray(0, end).toString('latin1');
  if (!/^[\x20-\x7e]*$/.test(line))
    return invalid('PROXY line with a byte that is not printable ASCII');
  const words = line.split(' ');
  const length = end + 2;
  const proto = words[1];
  if (proto === 'UNKNOWN') {
    // The rest of the line is to be ignored: the connection's own addresses stand.
    return complete(1, 'proxy', undefined, undefined, [], length);
  }
  if (proto !== 'TCP4' && proto !== 'TCP6') {
    return invalid(`PROXY line with protocol '${proto ?? ''}' (TCP4, TCP6 or UNKNOWN)`);
  }
  if (words.length !== 6) return invalid('PROXY line without exactly two addresses and two ports');
  const family = proto === 'TCP4' ? 'ipv4' : 'ipv6';
  const [, , src, dst, sport, dport] = words as [string, string, string, string, string, string];
  const source = endpoint(src, sport, family);
  const destination = endpoint(dst, dport, family);
  if (!source || !destination) return invalid(`PROXY line with a bad ${proto} address or port`);
  return complete(1, 'proxy', source, destination, [], length);
}

function complete(
  version: 1 | 2,
  command: 'proxy' | 'local',
  source: Endpoint | undefined,
  destination: Endpoint | undefined,
  tlvs: ProxyTlv[],
  length: number,
): HeaderParse {
  return { status: 'complete', header: { version, command, source, destination, tlvs, length } };
}

/** Address block lengths of the version 2 families: INET, INET6, UNIX. */
const ADDRESS_BYTES: Readonly<Record<number, number>> = { 0x1: 12, 0x2: 36, 0x3: 216 };

function parseV2(data: Buffer): HeaderParse {
  if (data.length < V2_FIXED) return INCOMPLETE;
  const versionCommand = data[12] as number;
  if (versionCommand >> 4 !== 2)
    return invalid(`PROXY v2 header of version ${versionCommand >> 4}`);
  const commandBits = versionCommand & 0x0f;
  if (commandBits > 1) return invalid(`PROXY v2 header with command ${commandBits}`);
  const command = commandBits === 0 ? 'local' : 'proxy';
  const familyByte = data[13] as number;
  const family = familyByte >> 4;
  const transport = familyByte & 0x0f;
  const bodyLength = data.readUInt16BE(14);
  if (bodyLength > V2_MAX_BODY) {
    return invalid(`PROXY v2 header of ${bodyLength} bytes (at most ${V2_MAX_BODY})`);
  }
  if (family > 3 || transport > 2) {
    return invalid(`PROXY v2 header with address family byte 0x${familyByte.toString(16)}`);
  }
  const addressBytes = family === 0 ? 0 : (ADDRESS_BYTES[family] ?? 0);
  if (bodyLength < addressBytes) return invalid('PROXY v2 header shorter than its addresses');
  const length = V2_FIXED + bodyLength;
  if (data.length < length) return INCOMPLETE;
  const header = data.subarray(0, length);
  const tlvs = readTlvs(header.subarray(V2_FIXED + addressBytes));
  if (typeof tlvs === 'string') return invalid(tlvs);
  const checksum = tlvs.find((t) => t.type === TLV.CRC32C);
  if (checksum && !checksumMatches(header, checksum)) {
    return invalid('PROXY v2 header whose CRC32C does not match');
  }
  // LOCAL: the balancer speaks for itself, whatever addresses it may have put in.
  if (command === 'local') return complete(2, 'local', undefined, undefined, tlvs, length);
  if (transport === 2) return invalid('PROXY v2 header for a datagram (UDP) connection');
  if (family === 1 || family === 2) {
    const ip = (bytes: Buffer): string =>
      family === 1 ? [...bytes].join('.') : canonical(v6Text(bytes), 'ipv6');
    const a = family === 1 ? 4 : 16;
    const body = header.subarray(V2_FIXED);
    const source = { address: ip(body.subarray(0, a)), port: body.readUInt16BE(2 * a) };
    const destination = {
      address: ip(body.subarray(a, 2 * a)),
      port: body.readUInt16BE(2 * a + 2),
    };
    return complete(2, 'proxy', source, destination, tlvs, length);
  }
  // UNSPEC or a UNIX socket: no IP address to take; the connection's own stands.
  return complete(2, 'proxy', undefined, undefined, tlvs, length);
}

function v6Text(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':');
}

/** The TLVs of `block`, or why they do not fill it exactly. */
function readTlvs(block: Buffer): ProxyTlv[] | string {
  const tlvs: ProxyTlv[] = [];
  let at = 0;
  while (at < block.length) {
    if (block.length - at < 3) return 'PROXY v2 header with a cut TLV';
    const type = block[at] as number;
    const size = block.readUInt16BE(at + 1);
    if (at + 3 + size > block.length) return 'PROXY v2 header with a TLV longer than the header';
    tlvs.push({ type, value: Buffer.from(block.subarray(at + 3, at + 3 + size)) });
    at += 3 + size;
  }
  return tlvs;
}

/** The CRC32C TLV holds the checksum of the whole header computed with its own 4 bytes at 0. */
function checksumMatches(header: Buffer, tlv: ProxyTlv): boolean {
  if (tlv.value.length !== 4) return false;
  const copy = Buffer.from(header);
  const offset = tlvValueOffset(copy, TLV.CRC32C);
  if (offset < 0) return false;
  copy.fill(0, offset, offset + 4);
  return crc32c(copy) >>> 0 === tlv.value.readUInt32BE(0);
}

/** Offset in `header` of the value of the first TLV of `type`; -1 if none. */
function tlvValueOffset(header: Buffer, type: number): number {
  const family = (header[13] as number) >> 4;
  let at = V2_FIXED + (family === 0 ? 0 : (ADDRESS_BYTES[family] ?? 0));
  while (at + 3 <= header.length) {
    if (header[at] === type) return at + 3;
    at += 3 + header.readUInt16BE(at + 1);
  }
  return -1;
}
