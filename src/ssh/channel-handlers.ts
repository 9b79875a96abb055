/**
 * What may run on a session channel besides SFTP: the commands ordinary users
 * may exec, and the admin console (whose contract, ConsoleHandler, is stated by
 * the console itself in admin/console-host.ts; a ChannelContext satisfies its
 * ConsoleContext). The SSH layer routes; these decide.
 */
import type { PseudoTtyInfo, ServerChannel } from 'ssh2';
import type { ConnectionInfo } from './connections';

export interface ChannelContext {
  channel: ServerChannel;
  user: string;
  connection: ConnectionInfo;
  /** Present when the client asked for a terminal. */
  pty: PseudoTtyInfo | undefined;
  /** Listeners get the new size when the client's terminal is resized. */
  onResize(listener: (cols: number, rows: number) => void): void;
}

export interface UserExecHandler {
  /** Runs a command an ordinary user sent with exec; returns false when it is not one it knows. */
  exec(ctx: ChannelContext, command: string): boolean;
}

/** Ends a channel with a one-line message on stderr and an exit status. */
export function refuseChannel(channel: ServerChannel, message: string, status = 1): void {
  channel.stderr.write(`${message}\r\n`);
  channel.exit(status);
  channel.end();
}
