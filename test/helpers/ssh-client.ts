/** ssh2 `Client` helpers for tests: log in, open SFTP, turn callbacks into promises. */
import { Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';

export interface Login {
  user: string;
  password?: string;
  privateKey?: string | Buffer;
  /** Software name sent after "SSH-2.0-" (ssh2's own "ssh2js…" by default). */
  ident?: string;
  /** Source address, e.g. "127.0.0.2" (all of 127.0.0.0/8 is loopback on Linux). */
  localAddress?: string;
}

/** An authenticated ssh2 client; end it with `endClient`. */
export function connectClient(port: number, login: Login): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const config: ConnectConfig = {
      host: '127.0.0.1',
      port,
      username: login.user,
      readyTimeout: 20000,
      // No keyboard-interactive fallback: a wrong password must fail, not prompt.
      tryKeyboard: false,
    };
    if (login.password !== undefined) config.password = login.password;
    if (login.privateKey !== undefined) config.privateKey = login.privateKey;
    if (login.localAddress !== undefined) config.localAddress = login.localAddress;
    client.once('ready', () => resolve(client));
    client.once('error', reject);
    // ssh2's client takes `ident` although @types/ssh2 lists it for the server only.
    client.connect(login.ident === undefined ? config : { ...config, ...{ ident: login.ident } });
  });
}

/** Resolves once the connection closes, whoever ends it. */
export function closedOf(client: Client): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

/** Ends the connection and resolves once the socket is closed. */
export function endClient(client: Client): Promise<void> {
  return new Promise((resolve) => {
    client.once('close', () => resolve());
    client.end();
  });
}

export function openSftp(client: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) =>
    client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))),
  );
}

/** Runs a callback-style call: `await call<Buffer>((cb) => sftp.open(p, 'r', cb))`. */
export function call<T = void>(
  fn: (cb: (err?: Error | null, value?: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) =>
    fn((err, value) => (err ? reject(err) : resolve(value as T))),
  );
}

/** The SFTP status code carried by an ssh2 client error (undefined for anything else). */
export function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Awaits `p`, expecting it to fail with one of the SFTP status `codes`; returns the error. */
export async function expectFailure(p: Promise<unknown>, ...codes: number[]): Promise<Error> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  if (!(caught instanceof Error)) throw new Error('expected the request to fail, it succeeded');
  const code = statusCode(caught);
  if (code === undefined || !codes.includes(code)) {
    throw new Error(
      `expected status ${codes.join(' or ')}, got ${String(code)}: ${caught.message}`,
    );
  }
  return caught;
}

/** Logs in with a password and ends at once; the error when the login failed. */
export async function loginError(
  port: number,
  user: string,
  password: string,
  localAddress?: string,
): Promise<Error | undefined> {
  try {
    await endClient(await connectClient(port, { user, password, localAddress }));
    return undefined;
  } catch (err) {
    return err as Error;
  }
}
