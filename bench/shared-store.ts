/**
 * Figures for servers sharing one store (not part of `npm run bench`; figures in
 * docs/architecture.md and docs/quotas.md): the resume check through another process after the writer was killed
 * with a 1 GiB prefix on disk, and the wall time of 8 concurrent OpenSSH uploads through one
 * server with the in-process ledger, with escrow grants on the data directory's SQLite file, and
 * with escrow grants on PostgreSQL. Run: node dist/bench/shared-store.js [--only resume|uploads]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SftpChannel } from '../src/client/sftp-channel';
import type { Store } from '../src/store/types';
import { writeRandomFile } from '../test/helpers/files';
import { sftpBatch } from '../test/helpers/openssh';
import { waitUntil } from '../test/helpers/probe';
import { makeDataDir } from '../test/helpers/server';
import { POSTGRES_SHARING, SQLITE_SHARING } from '../test/helpers/sharings';
import { startServerProcess, stopServerProcesses } from '../test/helpers/server-process';
import { connectClient, endClient } from '../test/helpers/ssh-client';
import { prefixMd5 } from './data';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const CREDS = { user: 'zhangsan', password: '123' };

interface Sharing {
  name: string;
  setup(dataDir: string): Promise<{ flags: string[]; open?: () => Promise<Store> }>;
}

const ALONE: Sharing = {
  name: 'one process, in-process ledger',
  setup: async () => ({ flags: [] }),
};
const SQLITE: Sharing = { ...SQLITE_SHARING, name: 'escrow grants, SQLite file shared' };
const POSTGRES: Sharing = { ...POSTGRES_SHARING, name: 'escrow grants, PostgreSQL' };

/** 1 GiB and more uploaded through A, A killed, the resume asked of B once A's lease ran out. */
async function resumeThroughAnother(sharing: Sharing, local: string): Promise<string> {
  const dataDir = await makeDataDir();
  const shared = await sharing.setup(dataDir);
  const flags = [...shared.flags, '--lease-time', '2', '--default-quota', '0'];
  const a = await startServerProcess(dataDir, flags);
  const b = await startServerProcess(dataDir, flags);
  const store = await (shared.open as () => Promise<Store>)();
  try {
    const disk = path.join(dataDir, 'docs', 'zhangsan', 'big.bin');
    const put = sftpBatch(a.port, CREDS, [`put ${local} big.bin`]);
    await waitUntil(
      '1 GiB on disk',
      () => (fs.statSync(disk, { throwIfNoEntry: false })?.size ?? 0) >= GiB,
      600_000,
    );
    a.child.kill('SIGKILL');
    await a.exited;
    await put;
    const offset = fs.statSync(disk).size;
    const md5 = await prefixMd5(local, offset);
    await waitUntil('the killed writer’s lease to run out', async () => {
      const row = await store.sql.get<{ n: number | string }>(
        'SELECT count(*) AS n FROM upload_leases WHERE expires_at > $1',
        [Date.now()],
      );
      return Number(row?.n ?? 0) === 0;
    });
    // Read before the resume: the resumed file's CLOSE drops the checkpoints of its path.
    const cp = await store.sql.get<{ bytes: number | string }>(
      'SELECT bytes FROM upload_checkpoints',
    );
    const tail = offset - Number(cp?.bytes ?? 0);
    const conn = await connectClient(b.port, CREDS);
    try {
      const sftp = await SftpChannel.open(conn);
      const started = process.hrtime.bigint();
      const handle = await sftp.resumeUpload('/big.bin', offset, md5);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      await sftp.close(handle);
      await sftp.end();
      return `${sharing.name}: resume of a ${(offset / MiB).toFixed(0)} MiB prefix through another process: ${ms.toFixed(1)} ms (tail hashed since the last checkpoint: ${(tail / MiB).toFixed(1)} MiB)`;
    } finally {
      await endClient(conn);
    }
  } finally {
    await store.close();
    await stopServerProcesses([a, b], 'SIGTERM');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** 8 OpenSSH uploads of `each` bytes at once through one server; the wall time of the best of `runs`. */
async function concurrentUploads(sharing: Sharing, files: string[], runs: number): Promise<string> {
  const dataDir = await makeDataDir();
  const shared = await sharing.setup(dataDir);
  const server = await startServerProcess(dataDir, [...shared.flags, '--default-quota', '2G']);
  try {
    let best = Infinity;
    for (let run = 0; run < runs; run++) {
      const started = process.hrtime.bigint();
      const results = await Promise.all(
        files.map((f, i) => sftpBatch(server.port, CREDS, [`put ${f} u${run}-${i}.bin`])),
      );
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (results.some((r) => r.code !== 0)) throw new Error('an upload failed');
      best = Math.min(best, ms);
      for (let i = 0; i < files.length; i++) {
        await sftpBatch(server.port, CREDS, [`rm u${run}-${i}.bin`]);
      }
    }
    const bytes = files.reduce((sum, f) => sum + fs.statSync(f).size, 0);
    return `${sharing.name}: 8 concurrent uploads, ${(bytes / MiB).toFixed(0)} MiB: ${best.toFixed(0)} ms (${(bytes / MiB / (best / 1000)).toFixed(0)} MiB/s, best of ${runs})`;
  } finally {
    await stopServerProcesses([server], 'SIGTERM');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const only = process.argv.includes('--only')
    ? process.argv[process.argv.indexOf('--only') + 1]
    : undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniftp-shared-bench-'));
  try {
    if (only === undefined || only === 'uploads') {
      const files = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => path.join(dir, `c${i}.bin`));
      for (const f of files) await writeRandomFile(f, 64 * MiB);
      for (const s of [ALONE, SQLITE, POSTGRES]) console.log(await concurrentUploads(s, files, 3));
      for (const f of files) fs.rmSync(f);
    }
    if (only === undefined || only === 'resume') {
      const big = path.join(dir, 'big.bin');
      await writeRandomFile(big, GiB + 256 * MiB);
      for (const s of [SQLITE, POSTGRES]) console.log(await resumeThroughAnother(s, big));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
