/** Command-line options of `npm run bench`. */
import { formatSize, parseSize } from '../src/config/size';

export const WORKLOAD_IDS = [
  'upload',
  'download',
  'small-files',
  'logins',
  'concurrent',
  'resume-check',
] as const;
export type WorkloadId = (typeof WORKLOAD_IDS)[number];

export interface BenchOptions {
  /** Runs per server and workload; each figure is the median. */
  runs: number;
  quick: boolean;
  /** Size of the single-file upload and download. */
  bigBytes: number;
  concurrentClients: number;
  concurrentBytes: number;
  smallFiles: number;
  smallFileBytes: number;
  logins: number;
  /** Where the JSON report goes, if anywhere. */
  json: string | undefined;
  /** Forces one cipher on every client run (`-c`); undefined = default negotiation. */
  cipher: string | undefined;
  /** The sshd binary to compare with; absent → MiniFTP alone. */
  sshdPath: string;
  /** Also run the transfer workloads against the ssh2 floor (bench/floor-server.ts). */
  floor: boolean;
  /** Instead of the comparison with sshd: one MiniFTP node direct against two behind HAProxy. */
  balancer: boolean;
  workloads: WorkloadId[];
  /** MiniFTP's worker processes (`--workers`); 1: a single process, as it starts by default. */
  workers: number;
  /** --rtt: round-trip times (ms) of the delay line; the long-link runs instead of the workloads. */
  rtts: number[];
}

export const USAGE = `Usage: npm run bench -- [options]

Benchmarks MiniFTP against OpenSSH's sshd (internal-sftp) on loopback with the
stock OpenSSH sftp client, and prints the ratios against the performance bars.

  --runs N        runs per server and workload, alternating; figures are medians (default 3, quick 1)
  --size SIZE     size of the single-file upload/download (default 1G; e.g. 4G to show RSS is flat)
  --quick         small version: sizes / 16, 200 files, 10 logins, 1 run (well under a minute)
  --only A,B      only these workloads: ${WORKLOAD_IDS.join(', ')}
  --json FILE     also write the results as JSON to FILE
  --cipher NAME   force this cipher on both (sftp -c NAME) instead of default negotiation
  --sshd PATH     the sshd to compare with (default /usr/sbin/sshd; if missing, MiniFTP alone)
  --floor         also run the transfers against the ssh2 floor: an ssh2 server set up as
                  MiniFTP's that does the least an SFTP server can (what ssh2 alone costs):
                  from memory for the big transfers, on disk with blocking calls for small files
  --balancer      instead: 8 concurrent uploads of 128M (each checked whole: size and MD5) and
                  50 logins (quick: 8M, 10) against HAProxy in front of two MiniFTP nodes (leastconn,
                  send-proxy-v2, one PostgreSQL and one homes directory, as docs/deploy.md) and
                  against one node reached directly on the same PostgreSQL, alternating; needs
                  haproxy and PostgreSQL; takes --runs, --quick, --cipher and --json only
  --workers N     run MiniFTP with N worker processes (--workers N of the server; default 1)
  --rtt MS[,MS…]  long links instead of the workloads: a delay line of MS round trip in front of
                  both servers; big file up and down (stock sftp to both, MiniFTP's client to
                  MiniFTP), 200 small files (MiniFTP's client vs stock put -r to OpenSSH), and
                  MiniFTP's peak RSS with 8 of 50 sessions uploading (size default 512M)
  --help          this text
`;

export class UsageError extends Error {}

/** The options the balancer comparison reads. */
const BALANCER_FLAGS = ['--balancer', '--runs', '--quick', '--cipher', '--json'];

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  let runs: number | undefined;
  let size: number | undefined;
  let rtts: number[] = [];
  let quick = false;
  let floor = false;
  let balancer = false;
  let json: string | undefined;
  let sshdPath = '/usr/sbin/sshd';
  let cipher: string | undefined;
  let workloads: WorkloadId[] = [...WORKLOAD_IDS];
  let workers = 1;
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    given.add(flag ?? arg);
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--help':
      case '-h':
        return 'help';
      case '--quick':
        quick = true;
        break;
      case '--floor':
        floor = true;
        break;
      case '--balancer':
        balancer = true;
        break;
      case '--runs': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1 || n > 50)
          throw new UsageError('--runs takes a whole number from 1 to 50');
        runs = n;
        break;
      }
      case '--size': {
        const text = value();
        try {
          size = parseSize(text);
        } catch {
          throw new UsageError(`--size: not a size: ${text}`);
        }
        if (size < 1024 * 1024) throw new UsageError('--size must be at least 1M');
        break;
      }
      case '--rtt': {
        const text = value();
        rtts = text.split(',').map((t) => Number(t.trim()));
        if (rtts.length === 0 || rtts.some((n) => !Number.isInteger(n) || n < 0 || n > 2000))
          throw new UsageError(`--rtt: not a list of milliseconds from 0 to 2000: ${text}`);
        break;
      }
      case '--json':
        json = value();
        break;
      case '--workers': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1 || n > 64)
          throw new UsageError('--workers takes a whole number from 1 to 64');
        workers = n;
        break;
      }
      case '--cipher':
        cipher = value();
        if (!/^[\w@.-]+$/.test(cipher))
          throw new UsageError(`--cipher: not a cipher name: ${cipher}`);
        break;
      case '--sshd':
        sshdPath = value();
        if (!sshdPath.startsWith('/'))
          throw new UsageError('--sshd needs an absolute path (sshd re-executes itself)');
        break;
      case '--only': {
        const names = value()
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
        for (const name of names) {
          if (!(WORKLOAD_IDS as readonly string[]).includes(name))
            throw new UsageError(`--only: unknown workload ${name} (${WORKLOAD_IDS.join(', ')})`);
        }
        workloads = names as WorkloadId[];
        break;
      }
      default:
        throw new UsageError(`unknown option ${arg}`);
    }
  }
  const ignored = [...given].filter((f) => !BALANCER_FLAGS.includes(f));
  if (balancer && ignored.length > 0)
    throw new UsageError(
      `--balancer takes only ${BALANCER_FLAGS.slice(1).join(', ')}, not ${ignored.join(', ')}`,
    );
  const divisor = quick ? 16 : 1;
  // Long links: 512 MiB by default, so that TCP's start and the login weigh little.
  size ??= rtts.length > 0 ? 512 * 1024 * 1024 : 1024 ** 3;
  return {
    runs: runs ?? (quick ? 1 : 3),
    quick,
    bigBytes: Math.floor(size / divisor),
    concurrentClients: 8,
    concurrentBytes: (128 * 1024 * 1024) / divisor,
    smallFiles: quick || rtts.length > 0 ? 200 : 1000,
    smallFileBytes: 4096,
    logins: quick ? 10 : 50,
    json,
    cipher,
    sshdPath,
    floor,
    balancer,
    workloads,
    workers,
    rtts,
  };
}

/** "1 GiB", "64 MiB": sizes in the labels of the table. */
export function sizeLabel(bytes: number): string {
  return formatSize(bytes);
}
