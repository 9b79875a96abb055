/**
 * The PROXY protocol front: with `balancer.proxyProtocol` on, each accepted
 * socket must come from a trusted balancer and start with a PROXY header,
 * read here before ssh2 sees the socket (so nothing, not even the SSH banner,
 * is sent to a connection that is turned away). The header names the client
 * whose address the connection then goes by; bytes that came after it are
 * put back for ssh2 to read.
 */
import * as net from 'node:net';
import type { Logger } from '../log/types';
import { parseCidr, splitCidrList } from '../config/formats';
import { MAX_HEADER_BYTES, parseProxyHeader, type ProxyHeader } from './proxy-header';

/** Where a connection comes from, as admission and everything after it sees it. */
export interface Origin {
  readonly ip: string;
  readonly port: number;
  /**
   * The balancer's own connection (a PROXY v2 LOCAL health check): served,
   * but never refused for a ban on the balancer's address.
   */
  readonly check: boolean;
}

/** The origin of a socket that reached the server directly. */
export function directOrigin(socket: net.Socket): Origin {
  return { ip: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0, check: false };
}

/** The balancers of a comma-separated list of addresses and networks. */
export function trustedList(text: string): net.BlockList {
  const list = new net.BlockList();
  for (const entry of splitCidrList(text)) {
    const cidr = parseCidr(entry);
    if (cidr) list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return list;
}

/** Whether `ip` (as a socket reports it, IPv4-mapped IPv6 included) is in `list`. */
export function isTrusted(list: net.BlockList, ip: string): boolean {
  const version = net.isIP(ip);
  if (version === 0) return false;
  return list.check(ip, version === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The origin a header gives a connection from the balancer `socket`: the
 * client's address for a relayed one, the balancer's own when the header
 * tells none (v1 UNKNOWN, v2 UNSPEC or a UNIX socket) or for a LOCAL check.
 */
export function originOf(header: ProxyHeader, socket: net.Socket): Origin {
  const own = directOrigin(socket);
  if (header.command === 'local') return { ...own, check: true };
  if (!header.source) return own;
  return { ip: header.source.address, port: header.source.port, check: false };
}

export interface ProxyFrontOptions {
  trusted: net.BlockList;
  /** Seconds a balancer has to send the whole header. */
  headerTimeout: number;
  logger: Logger;
}

export class ProxyFront {
  /** Sockets whose header is still awaited, ended with the server. */
  private readonly waiting = new Set<net.Socket>();

  constructor(private readonly o: ProxyFrontOptions) {}

  /**
   * Reads the header of `socket` and calls `admit` with its origin, the bytes
   * after the header put back; or refuses it (logged once, socket destroyed).
   * A balancer's TCP check that connects and closes without a byte is not logged.
   */
  accept(socket: net.Socket, admit: (origin: Origin) => void): void {
    const from = socket.remoteAddress;
    if (from === undefined) {
      // Reset before it was looked at (HAProxy's TCP check connects and resets).
      socket.destroy();
      return;
    }
    const refuse = (reason: string): void => {
      this.o.logger.warn('connection.refused', { ip: from, reason });
      socket.destroy();
    };
    if (!isTrusted(this.o.trusted, from)) {
      refuse('not a trusted proxy: PROXY protocol is on (balancer.trustedProxies)');
      return;
    }
    let received: Buffer = Buffer.alloc(0);
    let settled = false;
    const settle = (): void => {
      settled = true;
      clearTimeout(timer);
      this.waiting.delete(socket);
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    const timer = setTimeout(() => {
      settle();
      refuse(`no complete PROXY header within ${this.o.headerTimeout} s`);
    }, this.o.headerTimeout * 1000);
    timer.unref();
    const onData = (chunk: Buffer): void => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const parsed = parseProxyHeader(received);
      if (parsed.status === 'incomplete' && received.length < MAX_HEADER_BYTES) return;
      settle();
      if (parsed.status !== 'complete') {
        refuse(parsed.status === 'invalid' ? parsed.reason : 'PROXY header too long');
        return;
      }
      socket.pause();
      const rest = received.subarray(parsed.header.length);
      if (rest.length > 0) socket.unshift(rest);
      admit(originOf(parsed.header, socket));
    };
    const onClose = (): void => {
      if (settled) return;
      settle();
      // Connected and gone without a byte: a TCP health check, not worth a line.
      if (received.length > 0) {
        this.o.logger.warn('connection.refused', {
          ip: from,
          reason: 'closed in the middle of its PROXY header',
        });
      }
    };
    this.waiting.add(socket);
    socket.on('error', () => undefined);
    socket.on('data', onData);
    socket.on('close', onClose);
  }

  /** Ends every connection still sending its header (the server stops accepting). */
  close(): void {
    for (const socket of this.waiting) socket.destroy();
  }
}
