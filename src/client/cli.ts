/**
 * `miniftp [user@]host[:port]`: parses the command line, asks for what it
 * needs (password, trust in a new host key), connects, then runs the full
 * screen or, for scripts, batch mode.
 */
import { constants as fsConstants, createReadStream, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { runBatch } from './batch';
import { connect, type ConnectOptions, type Connection } from './connect';
import { credentials, hostKeyChecker, jumpOptions, type Terminal } from './credentials';
import { AuthenticationError, ClientError } from './errors';
import { hostEntryName } from './known-hosts';
import { Bookmarks, bookmarksFile } from './bookmarks';
import { UsageError, parseDestination, parsePort } from './destination';
import { connectVia } from './jump';
import { Link, type Opened } from './reconnect';
import { RateLimiter } from './rate-limit';
import { ClientSession } from './session';
import { TransferQueue } from './transfer-queue';
import { runScreen } from './ui/app';

export { keyLabel } from './credentials';
export { UsageError, parseDestination } from './destination';

export const DEFAULT_PORT = 8808;
export const DEFAULT_HOST = '127.0.0.1';

export const USAGE = `usage: miniftp [options] [user@]host[:port]
       miniftp [options] BOOKMARK

  -p PORT                 server port (default ${DEFAULT_PORT})
  -i KEYFILE              log in with this private key instead of a password
  -J [user@]host[:port]   connect through this jump host (as ssh -J; its password
                          from MINIFTP_JUMP_PASSWORD or asked; the same -i key)
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
  /** -J: the jump host. */
  jump: { user: string; host: string; port: number } | undefined;
}

export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv): CliArgs {
  let dest: string | undefined;
  let portFlag: number | undefined;
  const out: Omit<CliArgs, 'user' | 'host' | 'port' | 'bookmark' | 'portGiven'> = {
    identity: undefined,
    jump: undefined,
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
      case '-J': {
        const j = parseDestination(value());
        if (j.host === undefined) throw new UsageError('-J needs a host');
        out.jump = {
          user: j.user ?? env.USER ?? os.userInfo().username,
          host: j.host,
          port: j.port ?? DEFAULT_PORT,
        };
        break;
      }
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
  let dial: (o: ConnectOptions) => Promise<Connection> = connect;
  try {
    const creds = await credentials(args, env, t);
    if (args.jump) {
      const jump = await jumpOptions(args, args.jump, creds, env, t);
      dial = (o) => connectVia(jump, o);
    }
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
    connection = await dial(options);
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
      { session, dial: () => dial(again), open: (dest) => openElsewhere(dest, args, env, t) },
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
