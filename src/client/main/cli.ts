/**
 * `miniftp [user@]host[:port]`: parses the command line, asks for what it
 * needs (password, trust in a new host key), connects, then runs the full
 * screen or, for scripts, batch mode.
 */
import { constants as fsConstants, createReadStream, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { runBatch } from '../batch';
import { connect, type ConnectOptions, type Connection } from '../connect';
import { credentials, hostKeyChecker, jumpOptions, type Terminal } from '../credentials';
import { AuthenticationError, ClientError } from '../errors';
import { hostEntryName } from '../known-hosts';
import { Bookmarks, bookmarksFile } from '../bookmarks';
import { UsageError, parseDestination } from '../destination';
import { connectVia } from '../jump';
import { Link, type Opened } from '../reconnect';
import { RateLimiter } from '../rate-limit';
import { ClientSession } from '../session';
import { TransferQueue } from '../transfer-queue';
import { runScreen } from '../ui/app';
import {
  DEFAULT_HOST,
  DEFAULT_PORT,
  USAGE,
  applyBookmark,
  parallelOf,
  parseCliArgs,
  type CliArgs,
} from '../cli-args';

export { keyLabel } from '../credentials';
export { UsageError, parseDestination } from '../destination';
export { applyBookmark, parseCliArgs } from '../cli-args';

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
      parallel: parallelOf(args, env),
      segments: args.segments,
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
      ...(args.parallel !== undefined ? { parallel: args.parallel } : {}),
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
