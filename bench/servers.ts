/**
 * The two servers under test, each a child process on a loopback port with
 * everything it writes in the bench's temp directory: MiniFTP from
 * bin/miniftp-server.js, and OpenSSH's sshd with its own config, host key and
 * authorized keys (never the system's sshd or its port).
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { lastLines, type Credentials, type OpenSshClient } from './openssh-client';
import { cpuTicks, descendants, type ChildRegistry } from './proc';
import { bypassesModes, effectiveCapabilities } from '../src/main/privileges';
import { GC_FLAG, MALLOC_THRESHOLD } from '../src/main/runtime';
import { OPENSSH_CIPHERS } from '../src/ssh/cipher-offer';

export type ServerName = 'MiniFTP' | 'OpenSSH' | 'floor';
/** The floor's two forms: files in memory, or real files with blocking calls (bench/floor-server.ts). */
export const FLOOR_KINDS = ['memory', 'disk'] as const;
export type FloorKind = (typeof FLOOR_KINDS)[number];

export interface BenchServer {
  readonly name: ServerName;
  /** Which floor this is (the floor only). */
  readonly floor?: FloorKind;
  /** The name in the report's lists of servers (the two floors differ). */
  readonly label: string;
  readonly port: number;
  /** Credentials for the transfer workloads. */
  transferCreds: Credentials;
  /** Credentials for the logins workload. */
  readonly loginCreds: Credentials;
  /** The SSH identification line the server sends. */
  banner: string;
  /** Path the sftp client uses for `name` in the server's bench directory. */
  remote(name: string): string;
  /**
   * Where that file is on this machine's disk; undefined for the floor in
   * memory, which keeps no files (what it received is then not checked).
   */
  disk(name: string): string | undefined;
  /** Processes whose memory is the server's while it serves sessions. */
  servingPids(): number[];
  /** The process started (MiniFTP itself, or the listening sshd). */
  readonly mainPid: number;
  /** The one process whose VmHWM can be reset and read, when there is one. */
  readonly hwmPid: number | undefined;
  /** How servingPids is measured, for the report. */
  readonly rssMethod: string;
  /** CPU time (clock ticks) the server has used so far, session processes that ended included. */
  cpuTicks(): number;
  stop(): Promise<void>;
}

/** Waits for a line matching `pattern` on a child's stdout or stderr. */
function waitForLine(
  child: ChildProcess,
  stream: 'stdout' | 'stderr',
  pattern: RegExp,
  what: string,
  timeoutMs = 60_000,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const source = child[stream];
    if (!source) {
      reject(new Error(`${what}: no ${stream}`));
      return;
    }
    const other = stream === 'stdout' ? child.stderr : child.stdout;
    let otherText = '';
    other?.on('data', (d: Buffer) => (otherText = (otherText + d.toString()).slice(-4000)));
    const timer = setTimeout(() => finish(new Error(`${what} did not start in time`)), timeoutMs);
    const onData = (d: Buffer): void => {
      seen += d.toString();
      const m = pattern.exec(seen);
      if (m) finish(undefined, m);
      else seen = seen.slice(-4000);
    };
    const onExit = (code: number | null): void => {
      const output = seen + otherText;
      // A Node stack ends in lines about the loader: the message is the line naming the error.
      const error = output.split('\n').find((l) => /\b\w*Error\b|^error:/i.test(l));
      finish(
        new Error(`${what} exited (${code}) before it listened: ${error ?? lastLines(output)}`),
      );
    };
    function finish(err: Error | undefined, m?: RegExpExecArray): void {
      clearTimeout(timer);
      source?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m as RegExpExecArray);
    }
    source.on('data', onData);
    child.once('exit', onExit);
  });
}

function stopChild(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** The identification line a server sends first ("SSH-2.0-…"). */
export function readBanner(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    const done = (value: string): void => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(5000, () => done('unknown'));
    socket.on('error', () => done('unknown'));
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      const line = /^(SSH-[^\r\n]*)\r?\n/m.exec(text);
      if (line?.[1]) done(line[1]);
    });
  });
}

/**
 * Starts a Node server script as `npm start` runs MiniFTP (src/main/runtime.ts:
 * the GC flag and the malloc setting) and waits for its "listening on" line.
 */
async function startNode(
  children: ChildRegistry,
  script: string,
  args: string[],
  what: string,
  cwd?: string,
): Promise<{ child: ChildProcess; port: number }> {
  const child = children.spawn(process.execPath, [GC_FLAG, script, ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, [MALLOC_THRESHOLD.name]: MALLOC_THRESHOLD.value },
  });
  const m = await waitForLine(child, 'stdout', /listening on (\S+):(\d+)/, what);
  child.stdout?.resume();
  child.stderr?.resume();
  return { child, port: Number(m[2]) };
}

export interface MiniftpPaths {
  /** The repository root (where bin/ is). */
  repo: string;
  /** The data directory given to --data-dir. */
  dataDir: string;
  /** More server flags. */
  flags?: string[];
  /**
   * Read the SSH banner from the port (default). Not for a node that takes
   * connections only through a balancer (--proxy-protocol).
   */
  readBanner?: boolean;
  /** Worker processes (--workers); 1 or absent: a single process. */
  workers?: number;
  /** The homes (--homes-dir), when not the data directory's docs/ (nodes sharing one). */
  homesDir?: string;
}

export async function startMiniftp(
  children: ChildRegistry,
  paths: MiniftpPaths,
): Promise<BenchServer> {
  const { child, port } = await startNode(
    children,
    path.join(paths.repo, 'bin', 'miniftp-server.js'),
    [
      '--port',
      '0',
      '--data-dir',
      paths.dataDir,
      '--keys-dir',
      path.join(paths.dataDir, 'keys'),
      '--log-stdout',
      'false',
      '--default-quota',
      '0',
      ...(paths.workers !== undefined && paths.workers > 1
        ? ['--workers', String(paths.workers)]
        : []),
      ...(paths.homesDir === undefined ? [] : ['--homes-dir', paths.homesDir]),
      ...(paths.flags ?? []),
    ],
    'MiniFTP',
    paths.repo,
  );
  const home = path.join(paths.homesDir ?? path.join(paths.dataDir, 'docs'), 'zhangsan');
  // Started as root, the command serves from its child, run through setpriv
  // without CAP_DAC_OVERRIDE, which the outer process keeps (see src/main/launch.ts).
  const outer = child.pid as number;
  const wrapped = bypassesModes(
    effectiveCapabilities(fs.readFileSync(`/proc/${outer}/status`, 'utf8')),
  );
  const pid = (wrapped ? descendants(outer)[0] : undefined) ?? outer;
  const password: Credentials = { user: 'zhangsan', password: '123' };
  const workers = paths.workers ?? 1;
  // With workers the started process is their primary: they serve, it hands connections out.
  const serving = (): number[] => (workers > 1 ? [pid, ...descendants(pid)] : [pid]);
  return {
    name: 'MiniFTP',
    label: workers > 1 ? `MiniFTP (${workers} workers)` : 'MiniFTP',
    port,
    transferCreds: password,
    loginCreds: password,
    banner: paths.readBanner === false ? '' : await readBanner(port),
    remote: (name) => `/${name}`,
    disk: (name) => path.join(home, name),
    servingPids: serving,
    mainPid: pid,
    hwmPid: workers > 1 ? undefined : pid,
    rssMethod:
      workers > 1
        ? `the primary and its ${workers} workers: the sum of their VmRSS, sampled every 50 ms`
        : 'the one server process: VmRSS sampled every 50 ms, and VmHWM after resetting it (clear_refs) at the start; the larger',
    cpuTicks: () => serving().reduce((sum, p) => sum + cpuTicks(p), 0),
    stop: () => stopChild(child),
  };
}

export interface FloorSetup {
  /** The bench's compiled directory (where floor-server.js is). */
  dir: string;
  /** Ciphers it offers; undefined: AES-GCM, as MiniFTP offers OpenSSH's client. */
  cipher: string | undefined;
  /** Files that exist from the start in memory: remote name → size. */
  files: Record<string, number>;
  /** Keep real files in this directory instead of names and sizes in memory. */
  disk?: string;
  identity: string;
}

/** The ssh2 floor (bench/floor-server.ts), started as MiniFTP is. */
export async function startFloor(children: ChildRegistry, o: FloorSetup): Promise<BenchServer> {
  const disk = o.disk;
  const store =
    disk === undefined
      ? Object.entries(o.files).map(([name, size]) => `/${name}=${size}`)
      : ['--disk', disk];
  const { child, port } = await startNode(
    children,
    path.join(o.dir, 'floor-server.js'),
    [o.cipher ?? OPENSSH_CIPHERS.join(','), ...store],
    disk === undefined ? 'the ssh2 floor' : 'the ssh2 floor on disk',
  );
  const pid = child.pid as number;
  const creds: Credentials = { user: 'bench', identity: o.identity };
  return {
    name: 'floor',
    floor: disk === undefined ? 'memory' : 'disk',
    label: disk === undefined ? 'floor' : 'floor on disk',
    port,
    transferCreds: creds,
    loginCreds: creds,
    banner: await readBanner(port),
    remote: (name) => `/${name}`,
    disk: (name) => (disk === undefined ? undefined : path.join(disk, name)),
    servingPids: () => [pid],
    mainPid: pid,
    hwmPid: pid,
    rssMethod: 'as MiniFTP',
    cpuTicks: () => cpuTicks(pid),
    stop: () => stopChild(child),
  };
}

/** A port that was free a moment ago (sshd cannot be told to pick one and report it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface SshdSetup {
  /** Absolute path of the sshd binary. */
  sshd: string;
  /** Directory for the config, host key, authorized_keys and pid file. */
  dir: string;
  /** Directory the sftp sessions read and write. */
  filesDir: string;
  /** Client key pair made with ssh-keygen. */
  identity: string;
  publicKey: string;
}

/**
 * Running as root, sshd insists on its privilege separation directory
 * /run/sshd, which only the system service creates. Creates it (empty) when
 * missing; true when it did, so the caller removes it again.
 */
export function ensurePrivsepDir(): boolean {
  if (process.getuid?.() !== 0 || fs.existsSync('/run/sshd')) return false;
  fs.mkdirSync('/run/sshd', { mode: 0o755 });
  return true;
}

/** An unencrypted ed25519 key pair at `file` and `file.pub`, made by OpenSSH's ssh-keygen. */
export async function makeKey(
  children: ChildRegistry,
  file: string,
  comment: string,
): Promise<void> {
  const r = await children.run('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    comment,
    '-f',
    file,
  ]);
  if (r.code !== 0) throw new Error(`ssh-keygen failed: ${lastLines(r.stderr)}`);
}

/** Starts `sshd -D -e -f CONFIG` (see ensurePrivsepDir for running as root). */
export async function startSshd(children: ChildRegistry, setup: SshdSetup): Promise<BenchServer> {
  fs.mkdirSync(setup.dir, { recursive: true });
  fs.mkdirSync(setup.filesDir, { recursive: true });
  const hostKey = path.join(setup.dir, 'host_ed25519');
  await makeKey(children, hostKey, 'miniftp-bench-host');
  const authorized = path.join(setup.dir, 'authorized_keys');
  fs.writeFileSync(authorized, `${setup.publicKey.trim()}\n`, { mode: 0o600 });
  const user = os.userInfo().username;
  const config = path.join(setup.dir, 'sshd_config');
  let lastError: Error | undefined;
  // The port is picked before sshd binds it: if another process takes it meanwhile, try again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    fs.writeFileSync(
      config,
      [
        `ListenAddress 127.0.0.1:${port}`,
        `HostKey ${hostKey}`,
        `PidFile ${path.join(setup.dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${authorized}`,
        'UsePAM no',
        'StrictModes no',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        // 8 clients connect at once; never let MaxStartups' random early drop hit them.
        'MaxStartups 100',
        'PrintMotd no',
        'X11Forwarding no',
        'Subsystem sftp internal-sftp',
        '',
      ].join('\n'),
    );
    const child = children.spawn(setup.sshd, ['-D', '-e', '-f', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await waitForLine(child, 'stderr', /Server listening on 127\.0\.0\.1 port (\d+)/, 'sshd');
    } catch (err) {
      lastError = err as Error;
      await stopChild(child);
      continue;
    }
    child.stdout?.resume();
    child.stderr?.resume();
    const listener = child.pid as number;
    const creds: Credentials = { user, identity: setup.identity };
    return {
      name: 'OpenSSH',
      label: 'OpenSSH',
      port,
      transferCreds: creds,
      loginCreds: creds,
      banner: await readBanner(port),
      remote: (name) => path.join(setup.filesDir, name),
      disk: (name) => path.join(setup.filesDir, name),
      servingPids: () => descendants(listener),
      mainPid: listener,
      // Each process once: a live one by its own time, an ended one in the time its parent reaped.
      cpuTicks: () =>
        [listener, ...descendants(listener)].reduce((sum, pid) => sum + cpuTicks(pid, true), 0),
      hwmPid: undefined,
      rssMethod:
        'every process below the listening sshd (per connection: the privileged monitor and the session child running internal-sftp), VmRSS summed and sampled every 50 ms; shared pages count once per process, so this overstates a little',
      stop: async () => {
        await stopChild(child);
        // Session processes outlive the listener until their client goes; ours are gone by now.
        for (const pid of descendants(listener)) {
          try {
            process.kill(pid, 'SIGTERM');
          } catch {
            // Already gone.
          }
        }
      },
    };
  }
  throw lastError ?? new Error('sshd did not start');
}

/**
 * Registers `publicKey` for zhangsan through MiniFTP's admin console
 * (`ssh admin@host key add zhangsan '<key>'`) and checks that the key logs in.
 * Returns the error text when the console cannot do it.
 */
export async function addMiniftpKey(
  client: OpenSshClient,
  server: BenchServer,
  identity: string,
  publicKey: string,
): Promise<string | undefined> {
  const quoted = `'${publicKey.trim().replace(/'/g, `'\\''`)}'`;
  const add = await client.ssh(
    server.port,
    { user: 'admin', password: 'password' },
    `key add zhangsan ${quoted}`,
  );
  if (add.code !== 0) return lastLines(add.stderr || add.stdout) || `exit ${add.code}`;
  const creds: Credentials = { user: 'zhangsan', identity };
  const check = await client.sftp(server.port, creds, ['ls']);
  if (check.code !== 0) return `the key was added but does not log in: ${lastLines(check.stderr)}`;
  server.transferCreds = creds;
  return undefined;
}
