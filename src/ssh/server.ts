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
import { ConnectionAuth } from './authenticator';
import { ConnectionRegistry, type ConnectionInfo } from './connections';
import {
  refuseChannel,
  type ChannelContext,
  type ConsoleHandler,
  type UserExecHandler,
} from './channel-handlers';
import type { HostKey } from './host-keys';

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
  console?: ConsoleHandler;
  userExec?: UserExecHandler;
}

/**
 * Ciphers in the order offered. The client's order decides, so this mostly
 * chooses what is on offer: AES-GCM (fast with AES-NI) ahead of the rest.
 */
const CIPHERS = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
  'chacha20-poly1305@openssh.com',
  'aes128-ctr',
  'aes192-ctr',
  'aes256-ctr',
] as const;

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

export const FILE_TRANSFER_ONLY = 'this account is for file transfer only';

export class MiniftpSshServer {
  private readonly ssh: SshServer;
  private readonly tcp: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly o: MiniftpSshServerOptions) {
    this.ssh = new SshServer({
      hostKeys: o.hostKeys.map((k) => k.privateKey),
      ident: 'MiniFTP_0.1',
      algorithms: {
        cipher: [...CIPHERS],
        hmac: [...MACS],
        kex: [...KEX],
        serverHostKey: ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ecdsa-sha2-nistp256'],
      },
    });
    this.ssh.on('connection', (client: Connection, info) =>
      this.onConnection(client, info.ip, info.port, info.header.identRaw),
    );
    this.ssh.on('error', (err: Error) => o.logger.warn('ssh.error', { error: err.message }));
    this.tcp = net.createServer({ noDelay: true }, (socket) => this.onSocket(socket));
  }

  listen(host: string, port: number): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen({ host, port }, () => {
        this.tcp.off('error', reject);
        this.tcp.on('error', (err) => this.o.logger.error('server.error', { error: err.message }));
        resolve(this.tcp.address() as net.AddressInfo);
      });
    });
  }

  /** Stops accepting, ends every connection, resolves when all sockets are gone. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.tcp.close(() => resolve()));
    for (const c of this.o.connections.list()) c.kill('server shutting down');
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private onSocket(socket: net.Socket): void {
    const ip = socket.remoteAddress ?? 'unknown';
    const { limits } = this.o.config;
    let refusal: string | undefined;
    if (this.o.throttle.isBanned(ip)) refusal = 'address is banned after failed logins';
    else if (this.sockets.size >= limits.maxConnections) refusal = 'too many connections';
    else if (this.o.connections.countFromIp(ip) >= limits.maxConnectionsPerIp)
      refusal = 'too many connections from this address';
    else if (this.o.connections.countUnauthenticated() >= limits.maxUnauthenticated)
      refusal = 'too many unauthenticated connections';
    if (refusal) {
      this.o.logger.warn('connection.refused', { ip, reason: refusal });
      socket.destroy();
      return;
    }
    // Nagle's algorithm holds back the small packets of the SSH handshake and
    // of SFTP replies: with it, uploads and logins are several times slower.
    socket.setNoDelay(true);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    if (limits.idleTimeout > 0) {
      socket.setTimeout(limits.idleTimeout * 1000, () => {
        this.o.logger.info('connection.idle_timeout', { ip });
        socket.destroy();
      });
    }
    this.ssh.injectSocket(socket);
  }

  private onConnection(client: Connection, ip: string, port: number, clientIdent: string): void {
    const { limits } = this.o.config;
    const logger = this.o.logger;
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
        client.end();
      },
    };
    this.o.connections.add(conn);
    const grace = setTimeout(() => {
      logger.info('login.timeout', { ip });
      client.end();
    }, limits.loginGraceTime * 1000);
    grace.unref();

    const auth = new ConnectionAuth(
      {
        store: this.o.store,
        hasher: this.o.hasher,
        throttle: this.o.throttle,
        logger,
        maxAuthTries: limits.maxAuthTries,
      },
      ip,
      () => client.end(),
      (outcome) => {
        pendingUser = outcome;
      },
    );

    let pendingUser: { user: string; method: string } | undefined;
    client.on('authentication', (ctx) => {
      auth.handle(ctx).catch((err: unknown) => {
        logger.error('login.error', { ip, error: describeError(err) });
        ctx.reject();
      });
    });

    client.on('ready', () => {
      clearTimeout(grace);
      if (!pendingUser) {
        client.end();
        return;
      }
      const { user, method } = pendingUser;
      if (this.o.connections.countForUser(user) >= limits.maxSessionsPerUser) {
        logger.warn('login.refused', { user, ip, reason: 'too many sessions for this user' });
        client.end();
        return;
      }
      conn.user = user;
      conn.method = method;
      logger.info('login.ok', { user, ip, method, session: conn.id });
      client.on('session', (accept) => this.onSession(accept(), conn));
    });

    client.on('error', (err: Error) => {
      logger.debug('connection.error', { ip, error: err.message });
    });
    client.on('close', () => {
      clearTimeout(grace);
      this.o.connections.remove(conn.id);
      if (conn.user) logger.info('session.closed', { user: conn.user, ip, session: conn.id });
    });
  }

  private onSession(session: Session, conn: ConnectionInfo): void {
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
      void this.startSftp(channel, user, conn);
    });

    session.on('shell', (accept) => {
      const channel = accept();
      if (isAdmin && this.o.console) this.o.console.shell(context(channel));
      else refuseChannel(channel, isAdmin ? 'the console is not available' : FILE_TRANSFER_ONLY);
    });

    session.on('exec', (accept, _reject, info) => {
      const channel = accept();
      if (isAdmin && this.o.console) {
        this.o.console.exec(context(channel), info.command);
        return;
      }
      if (!isAdmin && this.o.userExec?.exec(context(channel), info.command)) return;
      this.o.logger.info('channel.refused', { user, kind: 'exec' });
      refuseChannel(channel, FILE_TRANSFER_ONLY);
    });
  }

  private async startSftp(
    channel: ServerChannel,
    user: string,
    conn: ConnectionInfo,
  ): Promise<void> {
    const logger = this.o.logger.child({ user, session: conn.id });
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
        },
        extensions: this.o.extensions,
        clientIdent: conn.clientIdent,
      });
      sftp.start();
      logger.debug('sftp.start');
    } catch (err) {
      logger.error('sftp.start_failed', { error: describeError(err) });
      refuseChannel(channel, 'the server could not open your home directory');
    }
  }
}
