/**
 * The SSH front door: accepts TCP connections (limits and bans checked before
 * any crypto), authenticates, and routes each session channel to SFTP, the
 * admin console, or a user's exec commands.
 */
import * as net from 'node:net';
import {
  Server as SshServer,
  type Connection,
  type ServerChannel,
  type Session,
  type PseudoTtyInfo,
} from 'ssh2';
import type { Config } from '../config/types';
import type { Logger } from '../log/types';
import type { Store } from '../store/types';
import type { LoginThrottle } from '../auth/throttle';
import type { PasswordHasher } from '../auth/passwords';
import type { Homes } from '../vfs/homes';
import { describeError } from '../errors';
import { SftpSession } from '../sftp/session';
import type { ExtensionRegistry } from '../sftp/extensions';
import type { HandleBudget } from '../sftp/handle-budget';
import { ConnectionAuth } from './authenticator';
import {
  clipForLog,
  ConnectionRegistry,
  startupDropChance,
  type ConnectionInfo,
} from './connections';
import {
  allowRepeatedUserauthService,
  DISCONNECT_TOO_MANY_CONNECTIONS,
  sendAuthBanner,
  sendDisconnect,
} from './wire';
import { refuseChannel, type ChannelContext, type UserExecHandler } from './channel-handlers';
import type { ConsoleHandler } from '../admin/console-host';
import type { HostKey } from './host-keys';
import { CIPHERS, CipherOffers } from './cipher-offer';

export interface MiniftpSshServerOptions {
  config: Config;
  logger: Logger;
  store: Store;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  homes: Homes;
  hostKeys: HostKey[];
  extensions: ExtensionRegistry;
  connections: ConnectionRegistry;
  /** Open handles and listing memory shared by all SFTP sessions. */
  handles?: HandleBudget;
  console?: ConsoleHandler;
  userExec?: UserExecHandler;
}

const MACS = [
  'hmac-sha2-256-etm@openssh.com',
  'hmac-sha2-512-etm@openssh.com',
  'hmac-sha2-256',
  'hmac-sha2-512',
] as const;

const KEX = [
  'curve25519-sha256',
  'curve25519-sha256@libssh.org',
  'ecdh-sha2-nistp256',
  'ecdh-sha2-nistp384',
  'ecdh-sha2-nistp521',
  'diffie-hellman-group16-sha512',
  'diffie-hellman-group18-sha512',
  'diffie-hellman-group14-sha256',
] as const;

/** How long a connection being ended may take to close before its socket is destroyed. */
const LINGER_MS = 2000;

export const FILE_TRANSFER_ONLY = 'this account is for file transfer only';

interface IdleWatch {
  /** The client did something: the idle timeout starts over. */
  touch(): void;
  stop(): void;
}

/** One accepted socket and what the limits need to know about it. */
interface Peer {
  readonly socket: net.Socket;
  /**
   * The client's address, the one every per-address limit, ban and log line
   * of this connection uses; taken once, at the accept.
   */
  readonly ip: string;
  /** Ends the connection, with `reason` told to the client once SSH is spoken. */
  end: (reason: string) => void;
  /** Logged in and within the user's session limit: no longer counts as unauthenticated. */
  authenticated: boolean;
  /** Login grace time, from the TCP accept to a successful login. */
  readonly grace: NodeJS.Timeout;
}

function peerKey(ip: string, port: number | undefined): string {
  return `${ip}|${port ?? 0}`;
}

export class MiniftpSshServer {
  private readonly ssh: SshServer;
  private readonly tcp: net.Server;
  /**
   * Every accepted socket, from the TCP accept on. ssh2 reports a connection
   * only once the client has sent its identification line, so limits counted
   * on ssh2's connections would not see clients that connect and stay silent.
   */
  private readonly peers = new Map<net.Socket, Peer>();
  /**
   * Per open connection (by id): its session channels, which carry the reason
   * it is ended (see farewell), and its SFTP sessions still ending (see
   * session.closed).
   */
  private readonly live = new Map<
    string,
    { channels: Set<ServerChannel>; sftpEnds: Set<Promise<void>> }
  >();
  /** The same sockets by "ip|port", how ssh2's 'connection' event names them. */
  private readonly byAddress = new Map<string, Peer>();
  private readonly perIp = new Map<string, number>();
  /** Channels with a pty: a terminal in raw mode needs "\r\n" to start a line. */
  private readonly onTerminal = new WeakSet<ServerChannel>();
  /** Connections from each address that have not logged in yet. */
  private readonly unauthenticatedPerIp = new Map<string, number>();
  private unauthenticated = 0;
  private readonly offers: CipherOffers;

  constructor(private readonly o: MiniftpSshServerOptions) {
    this.offers = new CipherOffers(o.config.ssh.gcmForOpenssh);
    this.ssh = new SshServer({
      hostKeys: o.hostKeys.map((k) => k.privateKey),
      ident: 'MiniFTP_0.1',
      algorithms: {
        cipher: [...CIPHERS],
        hmac: [...MACS],
        kex: [...KEX],
        serverHostKey: ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ecdsa-sha2-nistp256'],
        // Compression only after login, as OpenSSH's server: plain "zlib" would
        // have unauthenticated clients feed the decompressor.
        compress: ['none', 'zlib@openssh.com'],
      },
    });
    this.ssh.on('connection', (client: Connection, info) =>
      this.onConnection(client, info.ip, info.port, info.header.identRaw),
    );
    this.ssh.on('error', (err: Error) => o.logger.warn('ssh.error', { error: err.message }));
    this.tcp = net.createServer({ noDelay: true }, (socket) => this.onSocket(socket));
  }

  /**
   * Serves on `bound`, a server already listening (the start-up binds the port
   * before it gives up root), and the connections it accepted meanwhile.
   */
  listen(bound: net.Server, accepted: readonly net.Socket[] = []): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen(bound, () => {
        this.tcp.off('error', reject);
        this.tcp.on('error', (err) => this.o.logger.error('server.error', { error: err.message }));
        for (const socket of accepted) if (!socket.destroyed) this.onSocket(socket);
        resolve(this.tcp.address() as net.AddressInfo);
      });
    });
  }

  /** Stops accepting, ends every connection, resolves when all sockets are gone. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.tcp.close(() => resolve()));
    for (const c of this.o.connections.list()) c.kill('server shutting down');
    for (const s of this.peers.keys()) s.destroy();
    await closed;
  }

  private onSocket(socket: net.Socket): void {
    const ip = socket.remoteAddress ?? 'unknown';
    const { limits } = this.o.config;
    let refusal: string | undefined;
    if (this.o.throttle.isBanned(ip)) refusal = 'address is banned after failed logins';
    else if (this.peers.size >= limits.maxConnections) refusal = 'too many connections';
    else if ((this.perIp.get(ip) ?? 0) >= limits.maxConnectionsPerIp)
      refusal = 'too many connections from this address';
    else if ((this.unauthenticatedPerIp.get(ip) ?? 0) >= limits.maxUnauthenticatedPerIp)
      refusal = 'too many unauthenticated connections from this address';
    else if (this.unauthenticated >= limits.maxUnauthenticated)
      refusal = 'too many unauthenticated connections';
    else if (
      Math.random() <
      startupDropChance(
        this.unauthenticated,
        limits.unauthenticatedDropStart,
        limits.unauthenticatedDropRate,
        limits.maxUnauthenticated,
      )
    )
      refusal = 'many unauthenticated connections: dropped at random';
    if (refusal) {
      // Dropped before any key exchange, so a flood costs no crypto (OpenSSH's MaxStartups).
      this.o.logger.warn('connection.refused', { ip, reason: refusal });
      socket.destroy();
      return;
    }
    // Nagle's algorithm holds back the small packets of the SSH handshake and
    // of SFTP replies: with it, uploads and logins are several times slower.
    socket.setNoDelay(true);
    // Counted from the accept, whatever the client sends meanwhile: trickling
    // bytes does not buy time.
    const grace = setTimeout(() => {
      this.o.logger.info('login.timeout', { ip });
      peer.end('login grace time is over');
    }, limits.loginGraceTime * 1000);
    grace.unref();
    const peer: Peer = {
      socket,
      ip,
      end: () => socket.destroy(),
      authenticated: false,
      grace,
    };
    const key = peerKey(ip, socket.remotePort);
    this.peers.set(socket, peer);
    this.byAddress.set(key, peer);
    bump(this.perIp, ip, 1);
    bump(this.unauthenticatedPerIp, ip, 1);
    this.unauthenticated++;
    socket.once('close', () => {
      clearTimeout(grace);
      this.peers.delete(socket);
      if (this.byAddress.get(key) === peer) this.byAddress.delete(key);
      bump(this.perIp, ip, -1);
      if (!peer.authenticated) {
        bump(this.unauthenticatedPerIp, ip, -1);
        this.unauthenticated--;
      }
    });
    socket.on('error', () => undefined);
    this.ssh.injectSocket(socket);
  }

  /** The login is complete and allowed: the peer stops counting as unauthenticated. */
  private markAuthenticated(peer: Peer | undefined): void {
    if (!peer || peer.authenticated) return;
    peer.authenticated = true;
    bump(this.unauthenticatedPerIp, peer.ip, -1);
    this.unauthenticated--;
    clearTimeout(peer.grace);
  }

  /** An address was banned: its connections that have not logged in end now. */
  private endUnauthenticated(ip: string, reason: string): void {
    for (const peer of [...this.peers.values()]) {
      if (peer.ip === ip && !peer.authenticated) peer.end(reason);
    }
  }

  private onConnection(
    client: Connection,
    reportedIp: string,
    port: number,
    clientIdent: string,
  ): void {
    const { limits } = this.o.config;
    const logger = this.o.logger;
    const peer = this.byAddress.get(peerKey(reportedIp, port));
    const ip = peer?.ip ?? reportedIp;
    const loggedIdent = clipForLog(clientIdent);
    /** Ends the connection with `reason` in the DISCONNECT, which OpenSSH prints. */
    let ending = false;
    const endWith = (reason: string, code?: number): void => {
      if (ending) return;
      ending = true;
      const socket = peer?.socket;
      if (socket?.writable && sendDisconnect(client, `miniftp: ${reason}`, code)) socket.end();
      else client.end();
      // A client that never closes its side must not keep the connection counted.
      if (socket) setTimeout(() => socket.destroy(), LINGER_MS).unref();
    };
    if (peer) peer.end = (reason) => endWith(reason);
    if (!allowRepeatedUserauthService(client))
      logger.warn('ssh.compat', {
        ip,
        reason: 'cannot let paramiko ask for the login service again with this ssh2',
      });
    const offer = this.offers.narrow(client, ip, clientIdent);
    if (offer === 'unsupported')
      logger.warn('connection.offer', {
        ip,
        reason: 'cannot narrow the cipher offer with this ssh2',
      });
    const conn: ConnectionInfo = {
      id: this.o.connections.newId(),
      ip,
      port,
      since: new Date(),
      clientIdent,
      user: undefined,
      method: undefined,
      kill: (reason: string) => {
        logger.info('connection.kill', { id: conn.id, user: conn.user, reason });
        this.farewell(conn.id, reason, () => client.end());
      },
    };
    this.o.connections.add(conn);
    this.live.set(conn.id, { channels: new Set(), sftpEnds: new Set() });

    client.on('handshake', (negotiated) => {
      // What a client settled for explains most interop trouble (libssh2 1.10
      // and paramiko 2.x know neither AES-GCM nor chacha20: they get aes*-ctr).
      logger.debug('connection.negotiated', {
        ip,
        client: loggedIdent,
        kex: negotiated.kex,
        hostKey: negotiated.serverHostKey,
        cipher: negotiated.cs.cipher,
        mac: negotiated.cs.mac,
      });
      // ssh2 always appends "ssh-rsa" (SHA-1 signatures) to the host key
      // algorithms it offers for an RSA key, whatever the configured list says;
      // a client that settled for it is turned away here, before it can log in.
      if (negotiated.serverHostKey !== 'ssh-rsa') return;
      logger.warn('connection.refused', { ip, reason: 'client accepts only ssh-rsa host keys' });
      client.end();
      peer?.socket.destroy();
    });

    const auth = new ConnectionAuth({
      store: this.o.store,
      hasher: this.o.hasher,
      throttle: this.o.throttle,
      logger,
      maxAuthTries: limits.maxAuthTries,
      ip,
      hooks: {
        disconnect: (reason) => endWith(reason),
        banned: () => this.endUnauthenticated(ip, 'too many failed logins from this address'),
        admit: (user) =>
          this.o.connections.countForUser(user) >= limits.maxSessionsPerUser
            ? `too many sessions for this user (limit ${limits.maxSessionsPerUser})`
            : undefined,
        refuse: (reason) => {
          // The banner is printed by OpenSSH at its default log level, the
          // DISCONNECT's description even with LogLevel=ERROR.
          sendAuthBanner(client, `miniftp: ${reason}\n`);
          endWith(reason, DISCONNECT_TOO_MANY_CONNECTIONS);
        },
        accepted: ({ user, method }) => {
          conn.user = user;
          conn.method = method;
          this.markAuthenticated(peer);
        },
      },
    });

    client.on('authentication', (ctx) => {
      auth.handle(ctx).catch((err: unknown) => {
        logger.error('login.error', { ip, error: describeError(err) });
        ctx.reject();
      });
    });

    client.on('ready', () => {
      const user = conn.user;
      if (user === undefined) {
        client.end();
        return;
      }
      const method = conn.method;
      logger.info('login.ok', { user, ip, method, session: conn.id });
      const idle = this.idleWatch(client, conn, peer);
      let channels = 0;
      client.on('session', (accept, reject) => {
        // Each SFTP channel has its own handle and pending limits: bound how many there are.
        if (channels >= limits.maxChannelsPerConnection) {
          logger.warn('channel.refused', { user, ip, reason: 'too many channels' });
          reject();
          return;
        }
        channels++;
        idle.touch();
        const session = accept();
        session.once('close', () => channels--);
        this.onSession(session, conn, idle);
      });
      client.on('close', () => idle.stop());
    });

    client.on('error', (err: Error) => {
      logger.debug('connection.error', { ip, error: err.message });
      if (this.offers.failed(offer, ip, clientIdent, err.message)) {
        logger.info('connection.offer', {
          ip,
          client: loggedIdent,
          reason:
            'OpenSSH client without AES-GCM: offering it every cipher from its next connection',
        });
      }
    });
    client.on('close', () => {
      const ends = [...(this.live.get(conn.id)?.sftpEnds ?? [])];
      this.live.delete(conn.id);
      auth.close();
      this.o.connections.remove(conn.id);
      // After its SFTP sessions have closed their files, so each file.closed comes first.
      const user = conn.user;
      if (user) {
        void Promise.allSettled(ends).then(() =>
          logger.info('session.closed', { user, ip, session: conn.id }),
        );
      }
    });
  }

  /**
   * The idle timeout counts what the client sends on its channels (SFTP
   * requests, console input), not the socket's traffic: ssh2 pings every
   * client after 15 s of silence and clients send keepalives of their own
   * (OpenSSH's ServerAliveInterval, MiniFTP's client), and either would keep
   * an unused connection open forever.
   */
  private idleWatch(client: Connection, conn: ConnectionInfo, peer: Peer | undefined): IdleWatch {
    const seconds = this.o.config.limits.idleTimeout;
    if (seconds === 0) return { touch: () => undefined, stop: () => undefined };
    let over = false;
    const timer = setTimeout(() => {
      over = true;
      this.o.logger.info('connection.idle_timeout', { user: conn.user, ip: conn.ip });
      this.farewell(conn.id, `idle for ${seconds} s`, () => {
        client.end();
        peer?.socket.destroy();
      });
    }, seconds * 1000);
    timer.unref();
    return {
      // refresh() would re-arm a timer that has already fired.
      touch: () => void (over || timer.refresh()),
      stop: () => {
        over = true;
        clearTimeout(timer);
      },
    };
  }

  private onSession(session: Session, conn: ConnectionInfo, idle: IdleWatch): void {
    const user = conn.user as string;
    const isAdmin = this.o.store.users.get(user)?.isAdmin === true;
    let pty: PseudoTtyInfo | undefined;
    const resizeListeners: Array<(cols: number, rows: number) => void> = [];
    const context = (channel: ServerChannel): ChannelContext => ({
      channel,
      user,
      connection: conn,
      pty,
      onResize: (listener) => resizeListeners.push(listener),
    });

    session.on('pty', (accept, _reject, info) => {
      pty = info;
      accept?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      accept?.();
      for (const l of resizeListeners) l(info.cols, info.rows);
    });
    session.on('env', (accept) => accept?.());

    session.on('subsystem', (accept, reject, info) => {
      if (info.name !== 'sftp' || isAdmin) {
        this.o.logger.info('channel.refused', { user, kind: `subsystem ${info.name}` });
        reject();
        return;
      }
      const channel = accept();
      this.track(conn.id, channel);
      void this.startSftp(channel, user, conn, idle);
    });

    // The handlers below attach their own readers synchronously: only after
    // that may the idle watch listen too (a 'data' listener starts the flow).
    session.on('shell', (accept) => {
      const channel = accept();
      this.track(conn.id, channel);
      if (pty) this.onTerminal.add(channel);
      if (isAdmin && this.o.console) {
        this.o.console.shell(context(channel));
        channel.on('data', idle.touch);
      } else refuseChannel(channel, isAdmin ? 'the console is not available' : FILE_TRANSFER_ONLY);
    });

    session.on('exec', (accept, _reject, info) => {
      const channel = accept();
      this.track(conn.id, channel);
      if (pty) this.onTerminal.add(channel);
      if (isAdmin && this.o.console) {
        this.o.console.exec(context(channel), info.command);
        channel.on('data', idle.touch);
        return;
      }
      if (!isAdmin && this.o.userExec?.exec(context(channel), info.command)) return;
      this.o.logger.info('channel.refused', { user, kind: 'exec' });
      refuseChannel(channel, FILE_TRANSFER_ONLY);
    });
  }

  private track(connId: string, channel: ServerChannel): void {
    const channels = this.live.get(connId)?.channels;
    if (!channels) return;
    channels.add(channel);
    channel.once('close', () => channels.delete(channel));
  }

  /**
   * Ends a connection with its reason shown to the user. ssh2 cannot put a
   * reason in its DISCONNECT, so each open channel gets it on stderr (OpenSSH's
   * sftp and ssh print it) and is closed; the connection ends once they are
   * closed, or after two seconds.
   */
  private farewell(connId: string, reason: string, end: () => void): void {
    const channels = [...(this.live.get(connId)?.channels ?? [])];
    let ended = false;
    const finish = (): void => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      end();
    };
    const timer = setTimeout(finish, 2000);
    timer.unref();
    let left = channels.length;
    if (left === 0) finish();
    for (const channel of channels) {
      channel.once('close', () => {
        if (--left === 0) finish();
      });
      try {
        const eol = this.onTerminal.has(channel) ? '\r\n' : '\n';
        channel.stderr.write(`miniftp: disconnected: ${reason}${eol}`);
        channel.exit(1);
        channel.end();
      } catch {
        // Already closing: its 'close' still comes.
      }
    }
  }

  private async startSftp(
    channel: ServerChannel,
    user: string,
    conn: ConnectionInfo,
    idle: IdleWatch,
  ): Promise<void> {
    const logger = this.o.logger.child({ user, session: conn.id });
    // Disabled or deleted since the login (its connection is being ended): a
    // late channel must not create the home again.
    const account = this.o.store.users.get(user);
    if (!account || account.disabled || !this.live.has(conn.id)) {
      refuseChannel(channel, 'this account is no longer available');
      return;
    }
    try {
      const fs = await this.o.homes.fsFor(user, { logger });
      const { limits } = this.o.config;
      const sftp = new SftpSession({
        channel,
        fs,
        user,
        logger,
        limits: {
          maxPacket: limits.maxPacket,
          maxPending: limits.maxPendingRequests,
          maxHandles: limits.maxHandlesPerSession,
          maxListingBytes: limits.maxListingMemoryPerSession,
        },
        extensions: this.o.extensions,
        clientIdent: conn.clientIdent,
        budget: this.o.handles,
      });
      sftp.start();
      const ends = this.live.get(conn.id)?.sftpEnds;
      if (ends) {
        ends.add(sftp.ended);
        void sftp.ended.then(() => ends.delete(sftp.ended));
      }
      channel.on('data', idle.touch);
      logger.debug('sftp.start');
    } catch (err) {
      logger.error('sftp.start_failed', { error: describeError(err) });
      refuseChannel(channel, 'the server could not open your home directory');
    }
  }
}

/** Adds `delta` to the count of `key`, forgetting counts that reach zero. */
function bump(counts: Map<string, number>, key: string, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
