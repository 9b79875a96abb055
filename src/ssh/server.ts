/**
 * The SSH front door: accepts TCP connections (admission checks limits and
 * bans before any crypto), sets each one up (key exchange, authentication),
 * and once the client has logged in hands its session channels to the router.
 * How connections end is the lifecycle's part.
 */
import * as net from 'node:net';
import { Server as SshServer, type Connection } from 'ssh2';
import type { Config } from '../config/types';
import type { Logger } from '../log/types';
import type { Store } from '../store/types';
import type { LoginThrottle } from '../auth/throttle';
import type { PasswordHasher } from '../auth/passwords';
import type { Homes } from '../vfs/homes';
import { MiniftpError, describeError } from '../errors';
import type { ExtensionRegistry } from '../sftp/extensions';
import type { HandleBudget } from '../sftp/handle-budget';
import type { ConsoleHandler } from '../admin/console-host';
import type { Ops } from '../ops/ops';
import { Admission } from './admission';
import { ConnectionAuth } from './authenticator';
import type { UserExecHandler } from './channel-handlers';
import { CIPHERS, CipherOffers } from './cipher-offer';
import { ConnectionLifecycle } from './connection-lifecycle';
import type { ConnectionInfo, ConnectionRegistry } from './connections';
import type { HostKey } from './host-keys';
import { ProxyFront, trustedList, type Origin } from './proxy-front';
import { clip } from '../util/clip';
import { ChannelWindows, windowBudget } from './channel-window';
import { SessionRouter } from './session-router';
import {
  allowRepeatedUserauthService,
  DISCONNECT_TOO_MANY_CONNECTIONS,
  sendAuthBanner,
} from './wire';

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
  /** Metrics, login history, address lists, per-user limits and hooks. */
  ops?: Ops;
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

export class MiniftpSshServer {
  private readonly ssh: SshServer;
  private tcp: net.Server;
  private readonly admission: Admission;
  private readonly lifecycle: ConnectionLifecycle;
  private readonly router: SessionRouter;
  private readonly offers: CipherOffers;
  /** Reads the PROXY header first, when connections come through a balancer. */
  private readonly front: ProxyFront | undefined;
  /** Resolves once the listener is closed and every socket it accepted is gone. */
  private stopped: Promise<void> | undefined;
  /** The receive windows of the SFTP channels and their shared budget. */
  readonly windows: ChannelWindows;

  constructor(private readonly o: MiniftpSshServerOptions) {
    const { limits } = o.config;
    this.offers = new CipherOffers(o.config.ssh.gcmForOpenssh);
    const ops = o.ops;
    this.admission = new Admission({
      limits,
      throttle: o.throttle,
      logger: o.logger,
      addressRefusal: ops && ((ip) => ops.connectionRefusal(ip)),
    });
    const { balancer } = o.config;
    this.front = balancer.proxyProtocol
      ? new ProxyFront({
          trusted: trustedList(balancer.trustedProxies),
          headerTimeout: balancer.proxyHeaderTimeout,
          logger: o.logger,
        })
      : undefined;
    this.lifecycle = new ConnectionLifecycle({
      limits,
      logger: o.logger,
      connections: o.connections,
    });
    this.windows = new ChannelWindows(
      { window: limits.channelWindow, budget: windowBudget(limits.channelWindowBudget) },
      o.logger,
    );
    this.router = new SessionRouter({
      windows: this.windows,
      limits,
      logger: o.logger,
      store: o.store,
      homes: o.homes,
      extensions: o.extensions,
      handles: o.handles,
      console: o.console,
      userExec: o.userExec,
      lifecycle: this.lifecycle,
      ops: o.ops,
    });
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
    // The bound server itself is served: in a worker of a cluster its handle is the
    // primary's, which cannot be passed on to another server.
    this.tcp = bound;
    bound.removeAllListeners('connection');
    bound.on('connection', (socket: net.Socket) => this.onSocket(socket));
    bound.on('error', (err) => this.o.logger.error('server.error', { error: err.message }));
    for (const socket of accepted) if (!socket.destroyed) this.onSocket(socket);
    return Promise.resolve(bound.address() as net.AddressInfo);
  }

  /** Stops accepting, ends every connection, resolves when all sockets are gone. */
  close(): Promise<void> {
    return this.lifecycle.shutdown(this.stopAccepting(), this.admission.sockets());
  }

  /**
   * Stops accepting (the listening socket closes, so a balancer's check fails
   * and it sends no new connections), lets the open connections run for up to
   * `timeoutSeconds`, then ends those left with `reason`. Resolves when all
   * sockets are gone.
   */
  drain(timeoutSeconds: number, reason: string): Promise<void> {
    const stopped = this.stopAccepting();
    this.o.logger.info('server.draining', {
      connections: this.o.connections.list().length,
      timeout: timeoutSeconds,
    });
    return this.lifecycle.drain(stopped, () => this.admission.sockets(), {
      timeoutMs: timeoutSeconds * 1000,
      reason,
    });
  }

  private stopAccepting(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => this.tcp.close(() => resolve()));
    this.front?.close();
    return this.stopped;
  }

  private onSocket(socket: net.Socket): void {
    if (this.front) this.front.accept(socket, (origin) => this.admit(socket, origin));
    else this.admit(socket);
  }

  private admit(socket: net.Socket, origin?: Origin): void {
    // A header read may end after the server stopped accepting.
    if (this.stopped) {
      socket.destroy();
      return;
    }
    const peer = this.admission.admit(socket, origin);
    if (!peer) return;
    // Nagle's algorithm holds back the small packets of the SSH handshake and
    // of SFTP replies: with it, uploads and logins are several times slower.
    socket.setNoDelay(true);
    this.lifecycle.startGrace(peer);
    socket.on('error', () => undefined);
    this.ssh.injectSocket(socket);
  }

  private onConnection(
    client: Connection,
    reportedIp: string,
    port: number,
    clientIdent: string,
  ): void {
    const { limits } = this.o.config;
    const { logger, ops } = this.o;
    const peer = this.admission.peerAt(reportedIp, port);
    const ip = peer?.ip ?? reportedIp;
    const loggedIdent = clip(clientIdent);
    /** Ends the connection with `reason` in the DISCONNECT, which OpenSSH prints. */
    const endWith = this.lifecycle.disconnector(client, peer);
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
      port: peer?.port ?? port,
      since: new Date(),
      clientIdent,
      user: undefined,
      method: undefined,
      bytes: () => (peer ? peer.socket.bytesRead + peer.socket.bytesWritten : 0),
      kill: (reason: string) => this.lifecycle.kick(conn, reason, () => endWith(reason)),
    };
    this.lifecycle.opened(conn);

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
      onAttempt: ops && ((a) => ops.loginAttempt({ ...a, address: ip, client: clientIdent })),
      hooks: {
        disconnect: (reason) => endWith(reason),
        banned: () =>
          this.admission.endUnauthenticated(ip, 'too many failed logins from this address'),
        admit: (user) => {
          const listed = ops?.loginRefusal(user, ip);
          if (listed !== undefined) return listed;
          const max = ops ? ops.maxSessionsFor(user) : limits.maxSessionsPerUser;
          return this.o.connections.countForUser(user) >= max
            ? `too many sessions for this user (limit ${max})`
            : undefined;
        },
        refuse: (reason) => {
          // The banner is printed by OpenSSH at its default log level, the
          // DISCONNECT's description even with LogLevel=ERROR.
          sendAuthBanner(client, `miniftp: ${reason}\n`);
          endWith(reason, DISCONNECT_TOO_MANY_CONNECTIONS);
        },
        accepted: ({ user, method, isAdmin }) => {
          conn.user = user;
          conn.method = method;
          conn.isAdmin = isAdmin;
          this.admission.loggedIn(peer);
          this.lifecycle.loggedIn(peer);
        },
      },
    });

    client.on('authentication', (ctx) => {
      auth.handle(ctx).catch((err: unknown) => {
        logger.error('login.error', { ip, error: describeError(err) });
        // The accounts could not be read (the user database is out of reach): the client is
        // told why, and let go, instead of a "permission denied" it would retry in vain.
        if (err instanceof MiniftpError && err.kind === 'failure') {
          endWith(`${err.message}; try again later`);
          return;
        }
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
      this.o.connections.loggedIn(conn.id);
      const idle = this.lifecycle.idleWatch(client, conn, peer);
      this.router.route(client, conn, idle);
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
      const sftpEnded = this.lifecycle.closed(conn.id);
      auth.close();
      // After its SFTP sessions have closed their files, so each file.closed comes first.
      const user = conn.user;
      if (user) {
        void sftpEnded.then(() => logger.info('session.closed', { user, ip, session: conn.id }));
      }
    });
  }
}
