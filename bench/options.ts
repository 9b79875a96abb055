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
  /** Instead of the comparison with sshd: MiniFTP direct against MiniFTP behind HAProxy. */
  balancer: boolean;
  workloads: WorkloadId[];
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
  --balancer      instead: 8 concurrent uploads and the logins against one MiniFTP reached
                  directly and one behind HAProxy (send-proxy-v2, as docs/deploy.md), alternating
  --help          this text
`;

export class UsageError extends Error {}

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  let runs: number | undefined;
  let size = 1024 ** 3;
  let quick = false;
  let floor = false;
  let balancer = false;
  let json: string | undefined;
  let sshdPath = '/usr/sbin/sshd';
  let cipher: string | undefined;
  let workloads: WorkloadId[] = [...WORKLOAD_IDS];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
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
      case '--json':
        json = value();
        break;
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
  const divisor = quick ? 16 : 1;
  return {
    runs: runs ?? (quick ? 1 : 3),
    quick,
    bigBytes: Math.floor(size / divisor),
    concurrentClients: 8,
    concurrentBytes: (128 * 1024 * 1024) / divisor,
    smallFiles: quick ? 200 : 1000,
    smallFileBytes: 4096,
    logins: quick ? 10 : 50,
    json,
    cipher,
    sshdPath,
    floor,
    balancer,
    workloads,
  };
}

/** "1 GiB", "64 MiB": sizes in the labels of the table. */
export function sizeLabel(bytes: number): string {
  return formatSize(bytes);
}
