/** The command line of `miniftp`: its options, its usage text, and saved hosts applied. */
import * as os from 'node:os';
import * as path from 'node:path';
import type { Bookmarks } from './bookmarks';
import { UsageError, parseDestination, parsePort } from './destination';
import { MAX_SEGMENTS } from './transfer-segments';

export const DEFAULT_PORT = 8808;
export const DEFAULT_HOST = '127.0.0.1';
/** The most transfers --parallel runs at once. */
export const MAX_PARALLEL = 16;

export const USAGE = `usage: miniftp [options] [user@]host[:port]
       miniftp [options] BOOKMARK

  -p PORT                 server port (default ${DEFAULT_PORT})
  -i KEYFILE              log in with this private key instead of a password
  -J [user@]host[:port]   connect through this jump host (as ssh -J; its password
                          from MINIFTP_JUMP_PASSWORD or asked; the same -i key)
  -b FILE                 batch mode: run the commands in FILE ("-" = stdin) and exit
  -l KBIT                 limit the bandwidth, in Kbit/s
  --parallel N            run N transfers at once (1 to ${MAX_PARALLEL}; default 1, or
                          MINIFTP_PARALLEL, or the bookmark's)
  --segments N            spread the download of a large file over N SFTP
                          sessions on the connection (1 to 16; default 1)
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
  /** --parallel, else a bookmark's `parallel`; undefined leaves MINIFTP_PARALLEL or 1. */
  parallel: number | undefined;
  /** --segments: sessions a large download is spread over. */
  segments: number | undefined;
  knownHosts: string;
  acceptNewHostKey: boolean;
  help: boolean;
  /** -J: the jump host. */
  jump: { user: string; host: string; port: number } | undefined;
}

/** A count of transfers at once, from 1 to MAX_PARALLEL; `what` names where it came from. */
export function parseParallel(text: string, what: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_PARALLEL) {
    throw new UsageError(`bad ${what} value ${text}: a number from 1 to ${MAX_PARALLEL}`);
  }
  return n;
}

/** Transfers at once: --parallel or a bookmark's, else MINIFTP_PARALLEL, else 1. */
export function parallelOf(args: CliArgs, env: NodeJS.ProcessEnv): number {
  if (args.parallel !== undefined) return args.parallel;
  const n = Number(env.MINIFTP_PARALLEL ?? '');
  return Number.isInteger(n) && n > 0 ? n : 1;
}

export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv): CliArgs {
  let dest: string | undefined;
  let portFlag: number | undefined;
  const out: Omit<CliArgs, 'user' | 'host' | 'port' | 'bookmark' | 'portGiven'> = {
    identity: undefined,
    jump: undefined,
    batch: undefined,
    limitKbit: undefined,
    parallel: undefined,
    segments: undefined,
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
      case '--parallel':
        out.parallel = parseParallel(value(), '--parallel');
        break;
      case '--segments': {
        const v = value();
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < 1 || n > MAX_SEGMENTS) {
          throw new UsageError(`bad --segments value ${v}: a number from 1 to ${MAX_SEGMENTS}`);
        }
        out.segments = n;
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
    parallel: args.parallel ?? (b.parallel && Math.min(b.parallel, MAX_PARALLEL)),
  };
}
