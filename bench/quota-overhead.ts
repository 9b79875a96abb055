/**
 * What quota enforcement costs an upload: OpenSSH `sftp` puts a 256 MiB file
 * to one server, alternately with a quota set on the user and with none, three
 * runs each, and prints both throughputs and the overhead.
 *
 *   npx tsc -p . && node dist/bench/quota-overhead.js
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sftpBatch, type Credentials } from '../test/helpers/openssh';
import { startTestServer, type TestServer } from '../test/helpers/server';
import { writeRandomFile } from '../test/helpers/files';

const FILE_SIZE = 256 * 1024 * 1024;
const RUNS = 3;
const USER = 'zhangsan';
const creds: Credentials = { user: USER, password: '123' };

type Mode = 'quota' | 'unlimited';

async function timed(server: TestServer, cwd: string, commands: string[]): Promise<number> {
  const start = process.hrtime.bigint();
  const run = await sftpBatch(server.port, creds, commands, { cwd });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (run.code !== 0) throw new Error(`sftp failed: ${run.stderr}`);
  return seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  const local = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-bench-quota-'));
  const server = await startTestServer();
  try {
    await writeRandomFile(path.join(local, 'big.bin'), FILE_SIZE);
    // Login and `pwd` alone, subtracted from every upload so only the transfer is compared.
    const logins: number[] = [];
    for (let i = 0; i < RUNS; i++) logins.push(await timed(server, local, ['pwd']));
    const login = median(logins);

    const rates: Record<Mode, number[]> = { quota: [], unlimited: [] };
    for (let round = 0; round < RUNS; round++) {
      // Alternate which goes first, so neither always gets the warmer machine.
      const order: Mode[] = round % 2 === 0 ? ['quota', 'unlimited'] : ['unlimited', 'quota'];
      for (const mode of order) {
        await server.store.users.setQuota(USER, mode === 'quota' ? 10 * 1024 ** 3 : 0);
        await server.quota.refreshLimits(USER);
        // Each put overwrites the last (TRUNC), so usage stays one file's worth.
        const seconds = await timed(server, local, ['put big.bin /big.bin']);
        const rate = FILE_SIZE / 1e6 / Math.max(seconds - login, 1e-3);
        rates[mode].push(rate);
        console.log(`run ${round + 1} ${mode.padEnd(9)} ${rate.toFixed(1)} MB/s`);
      }
    }

    const withQuota = median(rates.quota);
    const unlimited = median(rates.unlimited);
    console.log('');
    console.log(`login + pwd      ${(login * 1000).toFixed(0)} ms (subtracted)`);
    console.log(`quota set        ${withQuota.toFixed(1)} MB/s (median of ${RUNS})`);
    console.log(`unlimited        ${unlimited.toFixed(1)} MB/s (median of ${RUNS})`);
    console.log(`overhead         ${(((unlimited - withQuota) / unlimited) * 100).toFixed(1)} %`);
  } finally {
    await server.stop();
    await fsp.rm(local, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
