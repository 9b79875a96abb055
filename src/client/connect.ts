/** Opens an SSH connection with ssh2's Client and starts an SFTP session on it. */
import { createHash } from 'node:crypto';
import { Client, type ConnectConfig } from 'ssh2';
import { PacketReader } from '../sftp/codec';
import { AuthenticationError, ClientError, HostKeyRejectedError } from './errors';
import { SftpChannel } from './sftp-channel';

export interface HostKeyInfo {
  /** The server's public key blob as sent in the key exchange. */
  key: Buffer;
  /** Key type, e.g. "ssh-ed25519". */
  type: string;
  /** As OpenSSH prints it: "SHA256:" and unpadded base64. */
  fingerprint: string;
}

export interface ConnectOptions {
  host: string;
  port: number;
  username: string;
  password?: string;
  privateKey?: Buffer | string;
  passphrase?: string;
  /**
   * Decides whether to trust the server's host key (known-hosts lookup, a
   * prompt…). Without it every key is accepted, which only tests should do.
   */
  hostKeyCheck?: (info: HostKeyInfo) => boolean | Promise<boolean>;
  /** Milliseconds for the handshake and authentication (default 20000). */
  readyTimeout?: number;
  /** Milliseconds between SSH keepalives (default 15000; 0 turns them off). */
  keepaliveInterval?: number;
}

export interface Connection {
  conn: Client;
  sftp: SftpChannel;
  /** Ends the SFTP session and the connection; resolves once the socket is closed. */
  close(): Promise<void>;
}

/**
 * Cipher preference, best first. ssh2 follows the client's order, so AES-GCM
 * (fast with AES-NI) is chosen whenever the server offers it.
 */
const CIPHERS: NonNullable<NonNullable<ConnectConfig['algorithms']>['cipher']> = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
  'chacha20-poly1305@openssh.com',
  'aes128-ctr',
  'aes192-ctr',
  'aes256-ctr',
];

export function hostKeyInfo(key: Buffer): HostKeyInfo {
  let type = 'unknown';
  try {
    type = new PacketReader(key).string();
  } catch {
    // A blob too short to hold its type name: the fingerprint still identifies it.
  }
  const fingerprint = `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
  return { key, type, fingerprint };
}

export function connect(options: ConnectOptions): Promise<Connection> {
  const conn = new Client();
  let hostKeyRefused = false;
  const closed = new Promise<void>((resolve) => conn.once('close', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const onError = (err: Error & { level?: string }): void => {
      if (hostKeyRefused) reject(new HostKeyRejectedError('the server host key was not accepted'));
      else if (err.level === 'client-authentication') {
        reject(new AuthenticationError('authentication failed', { cause: err }));
      } else reject(new ClientError(`cannot connect: ${err.message}`, { cause: err }));
    };
    conn.once('error', onError);
    conn.once('ready', () => {
      conn.off('error', onError);
      resolve();
    });
  });
  // After "ready", late errors (a reset socket) surface through "close" and
  // the SFTP channel; this listener only keeps them from being thrown.
  conn.on('error', () => undefined);

  const check = options.hostKeyCheck;
  conn.connect({
    host: options.host,
    port: options.port,
    username: options.username,
    password: options.password,
    privateKey: options.privateKey,
    passphrase: options.passphrase,
    readyTimeout: options.readyTimeout ?? 20_000,
    keepaliveInterval: options.keepaliveInterval ?? 15_000,
    keepaliveCountMax: 3,
    algorithms: { cipher: CIPHERS },
    hostVerifier: (key: Buffer, verify: (valid: boolean) => void): void => {
      if (!check) {
        verify(true);
        return;
      }
      Promise.resolve()
        .then(() => check(hostKeyInfo(key)))
        .then(
          (ok) => ok === true,
          () => false,
        )
        .then((ok) => {
          hostKeyRefused = !ok;
          verify(ok);
        });
    },
  });
  // ssh2 never disables Nagle's algorithm; with it the many small SFTP
  // requests and replies wait on delayed ACKs.
  conn.setNoDelay(true);

  return ready.then(
    async () => {
      let sftp: SftpChannel;
      try {
        sftp = await SftpChannel.open(conn);
      } catch (err) {
        conn.end();
        throw err;
      }
      return {
        conn,
        sftp,
        close: async () => {
          await Promise.race([sftp.end(), closed]);
          conn.end();
          await closed;
        },
      };
    },
    async (err: unknown) => {
      conn.end();
      throw err;
    },
  );
}
