/**
 * Admission: which TCP connections are let in, decided at the accept, before
 * any key exchange, so that a flood costs no crypto (OpenSSH's MaxStartups).
 * Counts every accepted socket overall and per address, and those that have
 * not logged in yet; refuses banned addresses, connections over a limit, and
 * at random a share of new ones while many have not logged in.
 */
import type * as net from 'node:net';
import type { Config } from '../config/types';
import type { Logger } from '../log/types';
import type { LoginThrottle } from '../auth/throttle';
import { directOrigin, type Origin } from './proxy-front';

/** One accepted socket and what the limits need to know about it. */
export interface Peer {
  readonly socket: net.Socket;
  /**
   * The client's address, the one every per-address limit, ban and log line
   * of this connection uses; taken once, at the accept (from the PROXY header
   * when the connection comes through a balancer).
   */
  readonly ip: string;
  /** The client's port, as `ip`. */
  readonly port: number;
  /** Ends the connection, with `reason` told to the client once SSH is spoken. */
  end: (reason: string) => void;
  /** Logged in and within the user's session limit: no longer counts as unauthenticated. */
  authenticated: boolean;
}

export interface AdmissionOptions {
  limits: Config['limits'];
  /** Knows the banned addresses. */
  throttle: Pick<LoginThrottle, 'isBanned'>;
  logger: Logger;
  /** Why the address lists turn a connection from `ip` away, or undefined. */
  addressRefusal?: (ip: string) => string | undefined;
}

/**
 * The client's address of an accepted socket: the one place a connection's
 * address is taken. `origin` is what a balancer's PROXY header said; without
 * one, the socket's own peer.
 */
function clientAddress(socket: net.Socket, origin: Origin | undefined): Origin {
  return origin ?? directOrigin(socket);
}

function peerKey(ip: string, port: number | undefined): string {
  return `${ip}|${port ?? 0}`;
}

export class Admission {
  /**
   * Every accepted socket, from the TCP accept on. ssh2 reports a connection
   * only once the client has sent its identification line, so limits counted
   * on ssh2's connections would not see clients that connect and stay silent.
   */
  private readonly peers = new Map<net.Socket, Peer>();
  /**
   * The same sockets by the TCP peer's "ip|port", how ssh2's 'connection'
   * event names them (the balancer's, behind one).
   */
  private readonly byAddress = new Map<string, Peer>();
  private readonly perIp = new Map<string, number>();
  /** Connections from each address that have not logged in yet. */
  private readonly unauthenticatedPerIp = new Map<string, number>();
  private unauthenticated = 0;

  constructor(private readonly o: AdmissionOptions) {}

  /**
   * Lets `socket` in and counts it until it closes, or refuses it (logged,
   * socket destroyed) and returns undefined.
   */
  admit(socket: net.Socket, origin?: Origin): Peer | undefined {
    const client = clientAddress(socket, origin);
    const ip = client.ip;
    const refusal = this.refusal(ip, client.check);
    if (refusal) {
      this.o.logger.warn('connection.refused', { ip, reason: refusal });
      socket.destroy();
      return undefined;
    }
    const peer: Peer = {
      socket,
      ip,
      port: client.port,
      end: () => socket.destroy(),
      authenticated: false,
    };
    const key = peerKey(socket.remoteAddress ?? 'unknown', socket.remotePort);
    this.peers.set(socket, peer);
    this.byAddress.set(key, peer);
    bump(this.perIp, ip, 1);
    bump(this.unauthenticatedPerIp, ip, 1);
    this.unauthenticated++;
    socket.once('close', () => {
      this.peers.delete(socket);
      if (this.byAddress.get(key) === peer) this.byAddress.delete(key);
      bump(this.perIp, ip, -1);
      if (!peer.authenticated) {
        bump(this.unauthenticatedPerIp, ip, -1);
        this.unauthenticated--;
      }
    });
    return peer;
  }

  /**
   * Why a new connection from `ip` is turned away, or undefined to let it in.
   * A balancer's health check is never turned away for a ban.
   */
  private refusal(ip: string, check: boolean): string | undefined {
    const { limits } = this.o;
    if (!check && this.o.throttle.isBanned(ip)) return 'address is banned after failed logins';
    const listed = check ? undefined : this.o.addressRefusal?.(ip);
    if (listed !== undefined) return listed;
    if (this.peers.size >= limits.maxConnections) return 'too many connections';
    if ((this.perIp.get(ip) ?? 0) >= limits.maxConnectionsPerIp)
      return 'too many connections from this address';
    if ((this.unauthenticatedPerIp.get(ip) ?? 0) >= limits.maxUnauthenticatedPerIp)
      return 'too many unauthenticated connections from this address';
    if (this.unauthenticated >= limits.maxUnauthenticated)
      return 'too many unauthenticated connections';
    const dropChance = startupDropChance(
      this.unauthenticated,
      limits.unauthenticatedDropStart,
      limits.unauthenticatedDropRate,
      limits.maxUnauthenticated,
    );
    if (Math.random() < dropChance) return 'many unauthenticated connections: dropped at random';
    return undefined;
  }

  /** The admitted socket ssh2 names by the address and port of its 'connection' event. */
  peerAt(ip: string, port: number): Peer | undefined {
    return this.byAddress.get(peerKey(ip, port));
  }

  /** The login is complete and allowed: the peer stops counting as unauthenticated. */
  loggedIn(peer: Peer | undefined): void {
    if (!peer || peer.authenticated) return;
    peer.authenticated = true;
    bump(this.unauthenticatedPerIp, peer.ip, -1);
    this.unauthenticated--;
  }

  /** An address was banned: its connections that have not logged in end now. */
  endUnauthenticated(ip: string, reason: string): void {
    for (const peer of [...this.peers.values()]) {
      if (peer.ip === ip && !peer.authenticated) peer.end(reason);
    }
  }

  /** Every admitted socket still open. */
  sockets(): net.Socket[] {
    return [...this.peers.keys()];
  }
}

/**
 * The chance (0 to 1) that a new connection is dropped while `unauthenticated`
 * connections have not logged in yet, as OpenSSH's MaxStartups start:rate:full:
 * none below `start`, `ratePercent` at `start`, rising linearly to all at `full`.
 */
export function startupDropChance(
  unauthenticated: number,
  start: number,
  ratePercent: number,
  full: number,
): number {
  if (unauthenticated >= full) return 1;
  if (unauthenticated < start) return 0;
  const rate = Math.min(100, Math.max(0, ratePercent));
  return (rate + ((100 - rate) * (unauthenticated - start)) / (full - start)) / 100;
}

/** Adds `delta` to the count of `key`, forgetting counts that reach zero. */
function bump(counts: Map<string, number>, key: string, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
