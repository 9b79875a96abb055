/**
 * Routes the session channels of a logged-in connection: the sftp subsystem
 * to an SFTP session on the user's home, shell and exec to the admin console
 * for the admin, exec to the commands ordinary users may run; everything else
 * is refused with a reason.
 */
import type { Connection, PseudoTtyInfo, ServerChannel, Session } from 'ssh2';
import type { Config } from '../config/types';
import type { Logger } from '../log/types';
import type { Store } from '../store/types';
import type { Homes } from '../vfs/homes';
import { describeError } from '../errors';
import { SftpSession } from '../sftp/session';
import type { ExtensionRegistry } from '../sftp/extensions';
import type { HandleBudget } from '../sftp/handle-budget';
import type { ConsoleHandler } from '../admin/console-host';
import type { SessionKind } from '../ops/metrics';
import type { Ops } from '../ops/ops';
import { refuseChannel, type ChannelContext, type UserExecHandler } from './channel-handlers';
import type { ConnectionLifecycle, IdleWatch } from './connection-lifecycle';
import type { ConnectionInfo } from './connections';
import type { ChannelWindows } from './channel-window';
import { RoundTrip } from '../util/round-trip';

export const FILE_TRANSFER_ONLY = 'this account is for file transfer only';

export interface SessionRouterOptions {
  limits: Config['limits'];
  logger: Logger;
  store: Store;
  homes: Homes;
  extensions: ExtensionRegistry;
  /** Open handles and listing memory shared by all SFTP sessions. */
  handles?: HandleBudget;
  console?: ConsoleHandler;
  userExec?: UserExecHandler;
  /** Told of every channel opened, so that ending a connection can tell them why. */
  lifecycle: ConnectionLifecycle;
  /** The receive windows of the SFTP channels; ssh2's own 2 MiB when absent. */
  windows?: ChannelWindows;
  ops?: Ops;
}

export class SessionRouter {
  constructor(private readonly o: SessionRouterOptions) {}

  /** Serves the session channels of `client`, logged in as `conn.user`. */
  route(client: Connection, conn: ConnectionInfo, idle: IdleWatch): void {
    const { limits, logger } = this.o;
    const user = conn.user;
    let channels = 0;
    client.on('session', (accept, reject) => {
      // Each SFTP channel has its own handle and pending limits: bound how many there are.
      if (channels >= limits.maxChannelsPerConnection) {
        logger.warn('channel.refused', { user, ip: conn.ip, reason: 'too many channels' });
        reject();
        return;
      }
      channels++;
      idle.touch();
      const session = accept();
      // The confirmation just left: the client's first request on the channel answers it.
      const roundTrip = new RoundTrip();
      roundTrip.sent();
      session.once('close', () => channels--);
      this.onSession(session, conn, idle, roundTrip);
    });
  }

  /** Counts `channel` as an open session of `kind` until it closes. */
  private count(channel: ServerChannel, kind: SessionKind): void {
    const closed = this.o.ops?.sessionOpened(kind);
    if (closed) channel.once('close', closed);
  }

  private onSession(
    session: Session,
    conn: ConnectionInfo,
    idle: IdleWatch,
    roundTrip: RoundTrip,
  ): void {
    const user = conn.user as string;
    const { lifecycle } = this.o;
    const isAdmin = conn.isAdmin === true;
    let pty: PseudoTtyInfo | undefined;
    const resizeListeners: Array<(cols: number, rows: number) => void> = [];
    const context = (channel: ServerChannel): ChannelContext => ({
      channel,
      user,
      connection: conn,
      pty,
      onResize: (listener) => resizeListeners.push(listener),
    });

    const heard = (): void => roundTrip.heard();
    for (const request of ['pty', 'env', 'subsystem', 'shell', 'exec'] as const) {
      session.prependListener(request, heard);
    }
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
      lifecycle.track(conn.id, channel, false);
      void this.startSftp(channel, user, conn, idle, roundTrip);
    });

    // The handlers below attach their own readers synchronously: only after
    // that may the idle watch listen too (a 'data' listener starts the flow).
    session.on('shell', (accept) => {
      const channel = accept();
      lifecycle.track(conn.id, channel, pty !== undefined);
      if (isAdmin && this.o.console) {
        this.count(channel, 'admin');
        this.o.console.shell(context(channel));
        channel.on('data', idle.touch);
      } else refuseChannel(channel, isAdmin ? 'the console is not available' : FILE_TRANSFER_ONLY);
    });

    session.on('exec', (accept, _reject, info) => {
      const channel = accept();
      lifecycle.track(conn.id, channel, pty !== undefined);
      if (isAdmin && this.o.console) {
        this.count(channel, 'admin');
        this.o.console.exec(context(channel), info.command);
        channel.on('data', idle.touch);
        return;
      }
      if (!isAdmin && this.o.userExec?.exec(context(channel), info.command)) {
        this.count(channel, 'exec');
        return;
      }
      this.o.logger.info('channel.refused', { user, kind: 'exec' });
      refuseChannel(channel, FILE_TRANSFER_ONLY);
    });
  }

  private async startSftp(
    channel: ServerChannel,
    user: string,
    conn: ConnectionInfo,
    idle: IdleWatch,
    roundTrip: RoundTrip,
  ): Promise<void> {
    const logger = this.o.logger.child({ user, session: conn.id });
    // Disabled or deleted since the login (its connection is being ended): a
    // late channel must not create the home again.
    let account;
    try {
      account = await this.o.store.users.get(user);
    } catch (err) {
      logger.error('sftp.start_failed', { error: describeError(err) });
      refuseChannel(channel, 'the server cannot reach its database: try again later');
      return;
    }
    if (!account || account.disabled || !this.o.lifecycle.isOpen(conn.id)) {
      refuseChannel(channel, 'this account is no longer available');
      return;
    }
    try {
      const fs = await this.o.homes.fsFor(user, { logger });
      const { limits } = this.o;
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
        ops: this.o.ops?.forSession(user, conn.ip),
        roundTrip,
      });
      this.count(channel, 'sftp');
      sftp.start();
      // After the session's reader: the window's own listener must not start the flow.
      this.o.windows?.attach(
        channel,
        () => void sftp.shutdown('the client overran its window'),
        () => roundTrip.ms,
      );
      this.o.lifecycle.sftpStarted(conn.id, sftp.ended);
      channel.on('data', idle.touch);
      logger.debug('sftp.start');
    } catch (err) {
      logger.error('sftp.start_failed', { error: describeError(err) });
      refuseChannel(channel, 'the server could not open your home directory');
    }
  }
}
