/**
 * `miniftp [user@]host[:port]`: parses the command line, asks for what it
 * needs (password, trust in a new host key), connects, then runs the full
 * screen or, for scripts, batch mode.
 */
import { constants as fsConstants, createReadStream, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { ReadStream } from 'node:tty';
import { utils as sshUtils } from 'ssh2';
import { runBatch } from './batch';
import { connect, type ConnectOptions, type Connection, type HostKeyInfo } from './connect';
import { AuthenticationError, ClientError } from './errors';
import { KnownHosts, hostEntryName } from './known-hosts';
import { Bookmarks, bookmarksFile } from './bookmarks';
import { UsageError, parseDestination, parsePort } from './destination';
import { askLine, askYesNo, type PromptIo } from './prompt';
import { Link, type Opened } from './reconnect';
import { RateLimiter } from './rate-limit';
import { ClientSession } from './session';
import { TransferQueue } from './transfer-queue';
import { runScreen } from './ui/app';

export { UsageError, parseDestination } from './destination';

export const DEFAULT_PORT = 8808;
export const DEFAULT_HOST = '127.0.0.1';

export const USAGE = `usage: miniftp [options] [user@]host[:port]
       miniftp [options] BOOKMARK

  -p PORT                 server port (default ${DEFAULT_PORT})
  -i KEYFILE              log in with this private key instead of a password
  -b FILE                 batch mode: run the commands in FILE ("-" = stdin) and exit
  -l KBIT                 limit the bandwidth, in Kbit/s
  --known-hosts FILE      host keys file (default ~/.miniftp/known_hosts)
  --accept-new-host-key   trust a server seen for the first time without asking
  -h, --help              this help

A BOOKMARK is a host saved with the bookmark command (in
$XDG_CONFIG_HOME/miniftp/hosts.json); -p and -i given here win over it.
Defaults: host ${DEFAULT_HOST}, user $USER. The password is asked for without
echo once the server's host key is trusted (3 tries), or read from
MINIFTP_PASSWORD. Without a terminal on stdin, the commands are read from
stdin (batch mode).`;

export interface CliArgs {
  user: string;
  host: string;
  port: number;
  /** The destination as given when it may name a bookmark (no user, no port). */
  bookmark: string | undefined;
  /** -p was given (it wins over a bookmark's port). */
  portGiven: boolean;
  identity: string | undefined;
  batch: string | undefined;
  limitKbit: number | undefined;
  knownHosts: string;
  acceptNewHostKey: boolean;
  help: boolean;
}

export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv): CliArgs {
  let dest: string | undefined;
  let portFlag: number | undefined;
  const out: Omit<CliArgs, 'user' | 'host' | 'port' | 'bookmark' | 'portGiven'> = {
    identity: undefined,
    batch: undefined,
    limitKbit: undefined,
    knownHosts: path.join(os.homedir(), '.miniftp', 'known_hosts'),
    acceptNewHostKey: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '-p':
        portFlag = parsePort(value());
        break;
      case '-i':
        out.identity = value();
        break;
      case '-b':
        out.batch = value();
        break;
      case '-l': {
        const v = value();
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < 1) throw new UsageError(`bad bandwidth limit: ${v}`);
        out.limitKbit = n;
        break;
      }
      case '--known-hosts':
        out.knownHosts = path.resolve(value());
        break;
      case '--accept-new-host-key':
        out.acceptNewHostKey = true;
        break;
      case '-h':
      case '--help':
        out.help = true;
        break;
      default:
        if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option ${a}`);
        if (dest !== undefined) throw new UsageError(`unexpected argument ${a}`);
        dest = a;
    }
  }
  const d = dest === undefined ? {} : parseDestination(dest);
  if (d.port !== undefined && portFlag !== undefined && d.port !== portFlag) {
    throw new UsageError(`two different ports: ${d.port} and -p ${portFlag}`);
  }
  return {
    ...out,
    bookmark: dest !== undefined && d.user === undefined && d.port === undefined ? dest : undefined,
    portGiven: portFlag !== undefined || d.port !== undefined,
    user: d.user ?? env.USER ?? os.userInfo().username,
    host: d.host ?? DEFAULT_HOST,
    port: d.port ?? portFlag ?? DEFAULT_PORT,
  };
}

interface Terminal {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

function promptIo(t: Terminal): PromptIo | undefined {
  return t.stdin.isTTY ? { input: t.stdin as ReadStream, output: t.stderr } : undefined;
}

/**
 * OpenSSH's short key names ("ED25519", "RSA", "ECDSA"): with the type as sent
 * ("ssh-ed25519") the fingerprint line is 82 columns and wraps on an 80-column
 * terminal.
 */
export function keyLabel(type: string): string {
  if (type === 'ssh-ed25519') return 'ED25519';
  if (type === 'ssh-rsa' || type.startsWith('rsa-sha2-')) return 'RSA';
  if (type.startsWith('ecdsa-')) return 'ECDSA';
  return type;
}

/** The known-hosts decision, with OpenSSH's wording where it has one. */
function hostKeyChecker(
  args: CliArgs,
  t: Terminal,
  interactive = true,
): (info: HostKeyInfo, signal: AbortSignal) => Promise<boolean> {
  const known = new KnownHosts(args.knownHosts);
  const name = hostEntryName(args.host, args.port);
  return async (info, signal) => {
    const status = await known.check(name, info);
    if (status.kind === 'known') return true;
    if (status.kind === 'changed') {
      t.stderr.write(
        `WARNING: THE HOST KEY OF ${name} HAS CHANGED!\n` +
          `Someone could be impersonating the server, or its key was replaced.\n` +
          `The ${keyLabel(info.type)} key it sent has fingerprint ${info.fingerprint}.\n` +
          `If you know the change is legitimate, delete line ${status.line} of ${known.file} ` +
          `and connect again.\n`,
      );
      return false;
    }
    const io = interactive ? promptIo(t) : undefined;
    if (!args.acceptNewHostKey) {
      if (!io) {
        t.stderr.write(
          `The host key of ${name} is not known (${keyLabel(info.type)} ${info.fingerprint}).\n` +
            `Connect once interactively, or pass --accept-new-host-key.\n`,
        );
        return false;
      }
      const ok = await askYesNo(
        io,
        `The authenticity of host ${name} can't be established.\n` +
          `${keyLabel(info.type)} key fingerprint is ${info.fingerprint}.\n` +
          `Are you sure you want to trust it and continue connecting (yes/no)? `,
        signal,
      );
      if (!ok) return false;
    }
    await known.add(name, info);
    t.stderr.write(`Added ${name} (${keyLabel(info.type)}) to ${known.file}.\n`);
    return true;
  };
}

/** Reads the -i key, asking for its passphrase when it is encrypted. */
async function loadKey(
  file: string,
  t: Terminal,
): Promise<{ privateKey: Buffer; passphrase?: string }> {
  const privateKey = await fsp.readFile(file);
  const parsed = sshUtils.parseKey(privateKey);
  if (!(parsed instanceof Error)) return { privateKey };
  if (!/passphrase|encrypted/i.test(parsed.message)) {
    throw new ClientError(`cannot read the key ${file}: ${parsed.message}`);
  }
  const io = promptIo(t);
  if (!io) throw new ClientError(`the key ${file} is encrypted and there is no terminal to ask`);
  const passphrase = await askLine(io, `Passphrase for ${file}: `, true);
  return { privateKey, passphrase };
}

/**
 * What to log in with: the -i key, then a password from MINIFTP_PASSWORD or
 * asked for on the terminal. The question itself is put by connect() once the
 * host key has been accepted, and again after a wrong password (OpenSSH's
 * wording).
 */
async function credentials(
  args: CliArgs,
  env: NodeJS.ProcessEnv,
  t: Terminal,
): Promise<
  Pick<ConnectOptions, 'password' | 'askPassword' | 'answerPrompts' | 'privateKey' | 'passphrase'>
> {
  const key = args.identity ? await loadKey(args.identity, t) : {};
  if (env.MINIFTP_PASSWORD !== undefined) return { ...key, password: env.MINIFTP_PASSWORD };
  const io = promptIo(t);
  if (!io) {
    if (args.identity) return key;
    throw new ClientError('no password: set MINIFTP_PASSWORD or log in with -i KEYFILE');
  }
  return {
    ...key,
    // Keyboard-interactive (a second factor): each question as the server sends it.
    answerPrompts: async ({ name, instructions, prompts }, signal) => {
      for (const line of [name, instructions]) if (line.trim()) t.stderr.write(`${line.trim()}\n`);
      const answers: string[] = [];
      for (const p of prompts) answers.push(await askLine(io, p.prompt, !p.echo, signal));
      return answers;
    },
    askPassword: (attempt, signal) => {
      if (attempt > 1) t.stderr.write('Permission denied, please try again.\n');
      return askLine(io, `${args.user}@${args.host}'s password: `, true, signal);
    },
  };
}

/** A destination that names a saved host takes its host, port, user and key. */
export async function applyBookmark(args: CliArgs, bookmarks: Bookmarks): Promise<CliArgs> {
  if (args.bookmark === undefined) return args;
  const b = await bookmarks.get(args.bookmark);
  if (!b) return args;
  return {
    ...args,
    host: b.host,
    port: args.portGiven ? args.port : b.port,
    user: b.user,
    identity: args.identity ?? b.identity,
  };
}

/**
 * The open command's connection: a bookmark or [user@]host[:port], logged in
 * with its key or MINIFTP_PASSWORD. Nothing is asked (the screen owns the
 * terminal): an unknown host key needs --accept-new-host-key.
 */
async function openElsewhere(
  dest: string,
  args: CliArgs,
  env: NodeJS.ProcessEnv,
  t: Terminal,
): Promise<Opened> {
  const d = parseDestination(dest);
  const plain = d.user === undefined && d.port === undefined;
  const target = await applyBookmark(
    {
      ...args,
      user: d.user ?? env.USER ?? os.userInfo().username,
      host: d.host ?? DEFAULT_HOST,
      port: d.port ?? DEFAULT_PORT,
      identity: undefined,
      bookmark: plain ? dest : undefined,
      portGiven: false,
    },
    new Bookmarks(bookmarksFile(env)),
  );
  const privateKey = target.identity ? await fsp.readFile(target.identity) : undefined;
  const password = env.MINIFTP_PASSWORD;
  if (!privateKey && password === undefined) {
    throw new ClientError(
      'open: nothing to log in with: use a bookmark with a key, or set MINIFTP_PASSWORD',
    );
  }
  const options: ConnectOptions = {
    host: target.host,
    port: target.port,
    username: target.user,
    privateKey,
    password,
    hostKeyCheck: hostKeyChecker(target, t, false),
  };
  const connection = await connect(options);
  return {
    connection,
    dial: () => connect(options),
    origin: { host: target.host, port: target.port, user: target.user, identity: target.identity },
  };
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  t: Terminal = process,
): Promise<number> {
  let args: CliArgs;
  try {
    args = parseCliArgs(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    t.stderr.write(`miniftp: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    t.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const bookmarks = new Bookmarks(bookmarksFile(env));
  try {
    args = await applyBookmark(args, bookmarks);
  } catch (err) {
    t.stderr.write(`miniftp: ${describe(err)}\n`);
    return 2;
  }
  const batchMode = args.batch !== undefined || !t.stdin.isTTY;
  if (!batchMode && !t.stdout.isTTY) {
    t.stderr.write('miniftp: the full screen needs a terminal; use -b FILE for scripts\n');
    return 2;
  }
  // A batch file that cannot be read is a usage error, found before logging in.
  if (args.batch !== undefined && args.batch !== '-') {
    const problem = await fsp.access(args.batch, fsConstants.R_OK).then(
      async () => ((await fsp.stat(args.batch ?? '')).isDirectory() ? 'it is a folder' : undefined),
      (err: NodeJS.ErrnoException) =>
        err.code === 'ENOENT'
          ? 'no such file'
          : err.code === 'EACCES'
            ? 'permission denied'
            : err.code,
    );
    if (problem !== undefined) {
      t.stderr.write(`miniftp: cannot read the batch file ${args.batch}: ${problem}\n`);
      return 2;
    }
  }

  let connection: Connection;
  let options: ConnectOptions;
  try {
    const creds = await credentials(args, env, t);
    const ask = creds.askPassword;
    // The password typed is kept, in memory only, so that a lost connection
    // can be made again without asking (the screen owns the terminal then).
    let typed: string | undefined;
    options = {
      host: args.host,
      port: args.port,
      username: args.user,
      ...creds,
      askPassword: ask && (async (attempt, signal) => (typed = await ask(attempt, signal))),
      hostKeyCheck: hostKeyChecker(args, t),
    };
    connection = await connect(options);
    // Nothing is asked while reconnecting: one-time codes cannot be given again.
    options = {
      ...options,
      askPassword: undefined,
      answerPrompts: undefined,
      ...(typed !== undefined ? { password: typed } : {}),
    };
  } catch (err) {
    const fromEnv =
      err instanceof AuthenticationError && env.MINIFTP_PASSWORD !== undefined
        ? ' (the password came from MINIFTP_PASSWORD)'
        : '';
    t.stderr.write(`miniftp: ${describe(err)}${fromEnv}\n`);
    return 1;
  }

  let link: Link | undefined;
  try {
    const remoteHome = await connection.sftp.realpath('.');
    const queue = new TransferQueue({
      sftp: connection.sftp,
      limiter: args.limitKbit ? new RateLimiter((args.limitKbit * 1000) / 8) : undefined,
    });
    const session = new ClientSession({
      sftp: connection.sftp,
      queue,
      localCwd: process.cwd(),
      remoteHome,
    });
    session.bookmarks = bookmarks;
    session.origin = {
      host: args.host,
      port: args.port,
      user: args.user,
      identity: args.identity && path.resolve(args.identity),
    };
    const again = options;
    link = new Link(
      { session, dial: () => connect(again), open: (dest) => openElsewhere(dest, args, env, t) },
      connection,
    );
    if (batchMode) {
      link.on('state', (_state, note) => t.stdout.write(`${note}\n`));
      link.on('note', (note) => t.stdout.write(`${note}\n`));
      const input: Readable =
        args.batch === undefined || args.batch === '-' ? t.stdin : createReadStream(args.batch);
      const code = await runBatch({ session, input, out: t.stdout, err: t.stderr });
      if (input !== t.stdin) input.destroy();
      else t.stdin.pause();
      return code;
    }
    return await runScreen({
      session,
      title: `${args.user}@${hostEntryName(args.host, args.port)}`,
      env,
      input: t.stdin,
      output: t.stdout,
    });
  } catch (err) {
    t.stderr.write(`miniftp: ${describe(err)}\n`);
    return 1;
  } finally {
    if (link) await link.close();
    else await connection.close().catch(() => undefined);
  }
}
