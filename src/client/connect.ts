/** Opens an SSH connection with ssh2's Client and starts an SFTP session on it. */
import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import {
  Client,
  utils as sshUtils,
  type AnyAuthMethod,
  type AuthenticationType,
  type ConnectConfig,
  type ParsedKey,
  type PublicKeyAuthMethod,
} from 'ssh2';
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
  /** A password known up front (MINIFTP_PASSWORD, tests): tried once, after the key if any. */
  password?: string;
  /**
   * Asks the user for the password. ssh2 calls its authHandler only once the
   * host key was accepted, so this runs after `hostKeyCheck`: a password is
   * never typed for a server that turned out not to be the one expected.
   * `attempt` counts from 1; after a refusal it is asked again, up to
   * `passwordTries` times. `signal` aborts when the connection ends meanwhile.
   */
  askPassword?: (attempt: number, signal: AbortSignal) => Promise<string>;
  /** Password prompts before giving up (default 3, as OpenSSH's NumberOfPasswordPrompts). */
  passwordTries?: number;
  privateKey?: Buffer | string;
  passphrase?: string;
  /**
   * Answers keyboard-interactive prompts (a one-time code, a second factor),
   * shown as the server sends them; tried after the key and the password.
   * Without it, a single hidden "password" prompt gets `password` if known.
   */
  answerPrompts?: (prompts: LoginPrompts, signal: AbortSignal) => Promise<string[]>;
  /**
   * Decides whether to trust the server's host key (known-hosts lookup, a
   * prompt…). Without it every key is accepted, which only tests should do.
   */
  hostKeyCheck?: (info: HostKeyInfo, signal: AbortSignal) => boolean | Promise<boolean>;
  /**
   * Milliseconds for the handshake and authentication (default 20000). Time
   * spent waiting on `hostKeyCheck` and `askPassword` does not count: a user
   * comparing a fingerprint is not a slow server.
   */
  readyTimeout?: number;
  /** Milliseconds between SSH keepalives (default 15000; 0 turns them off). */
  keepaliveInterval?: number;
  /** A stream to speak SSH over instead of a TCP connection (a jump host's channel). */
  sock?: Duplex;
}

/** What a keyboard-interactive round asks: a title, instructions, then the questions. */
export interface LoginPrompts {
  name: string;
  instructions: string;
  prompts: Array<{ prompt: string; echo: boolean }>;
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

/**
 * A deadline that stands still while the user is being asked something
 * (`hold` … `release`), so only the network's and the server's time counts.
 */
class LoginDeadline {
  private timer: NodeJS.Timeout | undefined;
  private left: number;
  private startedAt = 0;
  private holds = 0;
  private stopped = false;

  constructor(
    ms: number,
    private readonly expire: () => void,
  ) {
    this.left = ms;
    this.run();
  }

  private run(): void {
    if (this.stopped || this.left <= 0) return;
    this.startedAt = Date.now();
    this.timer = setTimeout(() => this.expire(), this.left);
  }

  hold(): void {
    if (this.holds++ > 0 || !this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.left = Math.max(1, this.left - (Date.now() - this.startedAt));
  }

  release(): void {
    if (--this.holds === 0) this.run();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}

/** Picks each login attempt in turn: the key, then the password (asked for up to N times). */
class LoginPlan {
  private keyTried = false;
  /** keyboard-interactive rounds started. */
  private rounds = 0;
  /** Passwords sent so far. */
  passwords = 0;
  private readonly tries: number;

  constructor(private readonly o: ConnectOptions & { key?: PublicKeyAuthMethod['key'] }) {
    this.tries = o.password !== undefined ? 1 : Math.max(1, o.passwordTries ?? 3);
  }

  /**
   * The next method to try, or false to give up. `left` is what the server
   * still accepts (null before the first attempt).
   */
  async next(
    left: AuthenticationType[] | null,
    ask: (attempt: number) => Promise<string>,
    converse: (
      answer: NonNullable<ConnectOptions['answerPrompts']>,
      prompts: LoginPrompts,
    ) => Promise<string[]>,
  ): Promise<AnyAuthMethod | false> {
    const allowed = (m: AuthenticationType): boolean => left === null || left.includes(m);
    const username = this.o.username;
    if (this.o.key !== undefined && !this.keyTried) {
      this.keyTried = true;
      if (allowed('publickey')) return { type: 'publickey', username, key: this.o.key };
    }
    const canAsk = this.o.password !== undefined || this.o.askPassword !== undefined;
    // Where the server takes passwords, the tries end the login: its
    // keyboard-interactive would only ask for the same password again.
    if (canAsk && allowed('password')) {
      if (this.passwords >= this.tries) return false;
      this.passwords++;
      const password = this.o.password ?? (await ask(this.passwords));
      return { type: 'password', username, password };
    }
    const answer = this.o.answerPrompts ?? this.passwordAnswers();
    if (!answer || !allowed('keyboard-interactive') || this.rounds >= this.tries) return false;
    this.rounds++;
    return {
      type: 'keyboard-interactive',
      username,
      prompt: (name, instructions, _lang, prompts, finish) => {
        const asked = prompts.map((p) => ({ prompt: p.prompt, echo: p.echo === true }));
        converse(answer, { name, instructions, prompts: asked }).then(finish, () => finish([]));
      },
    };
  }

  /** Without a way to ask: the known password answers one hidden password prompt. */
  private passwordAnswers(): ConnectOptions['answerPrompts'] {
    const password = this.o.password;
    // Once sent as a password it is known to be wrong.
    if (password === undefined || this.passwords > 0) return undefined;
    return async ({ prompts }) =>
      prompts.length === 1 && !prompts[0]?.echo && /password/i.test(prompts[0]?.prompt ?? '')
        ? [password]
        : [];
  }

  /** Why the login failed, in words a user can act on. */
  failure(): string {
    const key = this.o.key !== undefined;
    if (this.rounds > 0 && this.passwords === 0) {
      return 'the server did not accept the answers to its login questions';
    }
    if (this.passwords === 0) {
      return key
        ? 'the server did not accept the key'
        : 'the server accepts neither a password nor a key from this client';
    }
    const tries = this.passwords > 1 ? ` (${this.passwords} tries)` : '';
    return key
      ? `the server accepted neither the key nor the password${tries}`
      : `wrong user name or password${tries}`;
  }
}

/** An SSH connection logged in, before any channel is opened. */
export interface Login {
  conn: Client;
  /** Resolves once the socket is closed. */
  closed: Promise<void>;
}

/** Opens an SSH connection and logs in; connect() starts SFTP on it. */
export function login(options: ConnectOptions): Promise<Login> {
  let key: PublicKeyAuthMethod['key'] | undefined;
  if (options.privateKey !== undefined) {
    const parsed = sshUtils.parseKey(options.privateKey, options.passphrase);
    if (parsed instanceof Error) {
      return Promise.reject(new ClientError(`cannot use the key: ${parsed.message}`));
    }
    key = Array.isArray(parsed) ? (parsed[0] as ParsedKey) : parsed;
    // ssh2 would skip a public key silently and go on to the password.
    if (!key.isPrivateKey()) {
      return Promise.reject(new ClientError('cannot use the key: it is a public key'));
    }
  }
  const plan = new LoginPlan({ ...options, key });
  const conn = new Client();
  // Ends a prompt still waiting when the connection is gone (the server's
  // login grace time ran out, a timeout, a reset).
  const aborted = new AbortController();
  let failure: Error | undefined;
  const fail = (err: Error, hard = false): void => {
    failure ??= err;
    aborted.abort();
    // Before the handshake is over ssh2's end() leaves the socket open.
    if (hard) conn.destroy();
    else conn.end();
  };
  const deadline = new LoginDeadline(options.readyTimeout ?? 20_000, () =>
    fail(
      new ClientError(`cannot connect: no answer from ${options.host}:${options.port} in time`),
      true,
    ),
  );
  /** Runs a question to the user without the deadline ticking. */
  const waitingOnUser = async <T>(question: () => T | Promise<T>): Promise<T> => {
    deadline.hold();
    try {
      return await question();
    } finally {
      deadline.release();
    }
  };

  let hostKeyRefused = false;
  const closed = new Promise<void>((resolve) => conn.once('close', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const onError = (err: Error & { level?: string }): void => {
      if (failure) return;
      if (hostKeyRefused) {
        failure = new HostKeyRejectedError('the server host key was not accepted');
      } else if (err.level === 'client-authentication') {
        failure = new AuthenticationError(`authentication failed: ${plan.failure()}`, {
          cause: err,
        });
      } else failure = new ClientError(`cannot connect: ${err.message}`, { cause: err });
      aborted.abort();
    };
    conn.on('error', onError);
    const onClose = (): void => {
      deadline.stop();
      aborted.abort();
      reject(
        failure ??
          new ClientError('the server closed the connection before the login was complete'),
      );
    };
    conn.once('close', onClose);
    conn.once('ready', () => {
      deadline.stop();
      conn.off('error', onError);
      conn.off('close', onClose);
      resolve();
    });
  });
  // After "ready", late errors (a reset socket) surface through "close" and
  // the SFTP channel; this listener only keeps them from being thrown.
  conn.on('error', () => undefined);

  const check = options.hostKeyCheck;
  const ask = options.askPassword;
  conn.connect({
    host: options.host,
    port: options.port,
    // Through a jump host: the forwarded channel instead of a TCP socket.
    sock: options.sock,
    username: options.username,
    // The deadline above replaces ssh2's, which would also count the user's time.
    readyTimeout: 0,
    keepaliveInterval: options.keepaliveInterval ?? 15_000,
    keepaliveCountMax: 3,
    algorithms: { cipher: CIPHERS },
    hostVerifier: (hostKey: Buffer, verify: (valid: boolean) => void): void => {
      if (!check) {
        verify(true);
        return;
      }
      waitingOnUser(() => check(hostKeyInfo(hostKey), aborted.signal))
        .then(
          (ok) => ok === true,
          () => false,
        )
        .then((ok) => {
          hostKeyRefused = !ok;
          verify(ok);
        });
    },
    // Called once the key exchange is over and the host key accepted, and
    // again after every refusal: the password is asked for only now.
    authHandler: (left, _partialSuccess, next) => {
      plan
        .next(
          left as AuthenticationType[] | null,
          (attempt) =>
            waitingOnUser(() => {
              if (!ask) throw new ClientError('no password to send');
              return ask(attempt, aborted.signal);
            }),
          (answer, prompts) => waitingOnUser(() => answer(prompts, aborted.signal)),
        )
        .then(
          // ssh2 takes false as "no more methods" although its types leave it out.
          (method) => next(method as AnyAuthMethod),
          (err: unknown) => fail(err instanceof Error ? err : new Error(String(err))),
        );
    },
  });
  // ssh2 never disables Nagle's algorithm; with it the many small SFTP
  // requests and replies wait on delayed ACKs.
  conn.setNoDelay(true);

  return ready.then(
    () => ({ conn, closed }),
    async (err: unknown) => {
      conn.end();
      throw err;
    },
  );
}

export async function connect(options: ConnectOptions): Promise<Connection> {
  const { conn, closed } = await login(options);
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
}
