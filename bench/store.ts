/**
 * What the store costs logins and small uploads: the server on SQLite and on PostgreSQL, each
 * driven by the stock OpenSSH client through 50 logins one after the other (`sftp -b` with
 * `pwd`) and 1000 uploads of 4 KiB in one `sftp -b` batch. Prints the wall times.
 *
 *   npx tsc -p . && node dist/bench/store.js [--store-url postgres://…] [--runs N] [--logins N]
 *
 * Without --store-url, a private PostgreSQL cluster is started for the run (as the tests do).
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sftpBatch, type Credentials } from '../test/helpers/openssh';
import { postgresDatabase } from '../test/helpers/postgres';
import { startTestServer, type TestServer } from '../test/helpers/server';

const FILES = 1000;
const FILE_SIZE = 4096;
const creds: Credentials = { user: 'zhangsan', password: '123' };

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

async function timed(what: string, fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  process.stdout.write(`  ${what}: ${seconds.toFixed(2)} s\n`);
  return seconds;
}

async function batch(server: TestServer, commands: string[], cwd?: string): Promise<void> {
  const run = await sftpBatch(server.port, creds, commands, cwd ? { cwd } : {});
  if (run.code !== 0) throw new Error(`sftp failed: ${run.stderr}`);
}

const LOGINS = Number(option('--logins') ?? '50');

async function measure(
  label: string,
  flags: string[],
  local: string,
): Promise<{ logins: number; uploads: number }> {
  process.stdout.write(`${label}\n`);
  // Default argon2 settings: a login costs what it costs in production.
  const server = await startTestServer({ flags: [...flags, '--argon2-time-cost', '2'] });
  try {
    const logins = await timed(`${LOGINS} logins`, async () => {
      for (let i = 0; i < LOGINS; i++) await batch(server, ['pwd']);
    });
    const puts = Array.from({ length: FILES }, (_, i) => `put f${i}.bin`);
    const uploads = await timed(`${FILES} x 4 KiB uploads`, () => batch(server, puts, local));
    return { logins, uploads };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const runs = Number(option('--runs') ?? '1');
  const local = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-bench-store-'));
  try {
    for (let i = 0; i < FILES; i++) {
      await fsp.writeFile(path.join(local, `f${i}.bin`), Buffer.alloc(FILE_SIZE, i % 251));
    }
    const rows: string[] = [];
    for (let run = 1; run <= runs; run++) {
      const sqlite = await measure(`run ${run}, SQLite`, [], local);
      const url = option('--store-url') ?? (await postgresDatabase());
      const postgres = await measure(`run ${run}, PostgreSQL`, ['--store-url', url], local);
      rows.push(
        `run ${run}: logins ${sqlite.logins.toFixed(2)} s (SQLite) / ${postgres.logins.toFixed(2)} s (PostgreSQL); ` +
          `uploads ${sqlite.uploads.toFixed(2)} s / ${postgres.uploads.toFixed(2)} s`,
      );
    }
    process.stdout.write(`${rows.join('\n')}\n`);
  } finally {
    await fsp.rm(local, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
