/**
 * A private PostgreSQL cluster for the tests: initdb in a temp dir as the `postgres` system user
 * (initdb refuses root), listening on a free loopback port with its socket inside the temp dir,
 * without fsync. One cluster serves every test file of a mocha run: it starts on first use and
 * is stopped and removed when the process exits, whether the tests passed or not. Each
 * `postgresDatabase()` is a fresh, empty database in it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';

/** The superuser's password: the URLs the tests get carry one, as production URLs do. */
export const PG_PASSWORD = 'cluster-secret-4242';

export interface PgCluster {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** postgres://postgres:…@127.0.0.1:PORT/NAME */
  url(database: string): string;
  /** Stops the server (a database going away); `start` brings it back on the same port. */
  stop(): void;
  start(): void;
}

function findBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = versions[0];
  if (newest === undefined) {
    throw new Error(
      'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): ' +
        'install the Debian package postgresql (apt-get install postgresql)',
    );
  }
  return path.join(root, newest, 'bin');
}

/** A loopback port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function asPostgres(command: string, args: string[]): void {
  execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
}

let cluster: Promise<PgCluster> | undefined;
let databases = 0;

async function startCluster(): Promise<PgCluster> {
  const bin = findBin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniftp-pg-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  fs.chownSync(dir, uid, gid);
  const data = path.join(dir, 'data');
  const pwfile = path.join(dir, 'pwfile');
  fs.writeFileSync(pwfile, `${PG_PASSWORD}\n`, { mode: 0o600 });
  fs.chownSync(pwfile, uid, gid);
  asPostgres(path.join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '--pwfile',
    pwfile,
    '--auth',
    'scram-sha-256',
    '--no-sync',
    '-E',
    'UTF8',
    '--locale',
    'C',
  ]);
  const port = await freePort();
  const options = [
    `-c listen_addresses=127.0.0.1`,
    `-p ${port}`,
    `-k ${dir}`,
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
  ].join(' ');
  const log = path.join(dir, 'server.log');
  const start = (): void =>
    asPostgres(path.join(bin, 'pg_ctl'), ['-D', data, '-l', log, '-w', '-o', options, 'start']);
  const stop = (): void =>
    asPostgres(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
  start();
  let running = true;
  const made: PgCluster = {
    host: '127.0.0.1',
    port,
    dir,
    url: (database) =>
      `postgres://postgres:${PG_PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    stop: () => {
      stop();
      running = false;
    },
    start: () => {
      start();
      running = true;
    },
  };
  process.once('exit', () => {
    try {
      if (running) stop();
    } catch {
      // Already down: only the files are left to remove.
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return made;
}

/** The run's cluster, started on first use. */
export function pgCluster(): Promise<PgCluster> {
  cluster ??= startCluster();
  return cluster;
}

/** A new, empty database in the run's cluster; resolves with its URL. */
export async function postgresDatabase(): Promise<string> {
  const c = await pgCluster();
  const name = `miniftp_test_${process.pid}_${++databases}`;
  const admin = new pg.Client({ connectionString: c.url('postgres') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return c.url(name);
}
