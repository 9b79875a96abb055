/**
 * resume-check (MiniFTP only): an OpenSSH `sftp put` is killed at ~60%, then
 * MiniFTP's own client asks `resume-upload@miniftp` to continue at the size
 * the server holds, with the MD5 of that prefix. Only the request/response is
 * timed: the local MD5 is computed before.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SftpChannel } from '../src/client/sftp-channel';
import { connectClient, endClient } from '../test/helpers/ssh-client';
import { prefixMd5 } from './data';
import type { Metrics } from './metrics';
import type { BenchServer } from './servers';
import type { BenchContext, Workload } from './workloads';

const CUT_AT = 0.6;

interface LogRecord {
  event?: string;
  path?: string;
  from_ledger?: boolean;
}

function logRecords(logDir: string): LogRecord[] {
  const records: LogRecord[] = [];
  for (const name of fs.readdirSync(logDir)) {
    if (!name.endsWith('.log')) continue;
    for (const line of fs.readFileSync(path.join(logDir, name), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        records.push(JSON.parse(line) as LogRecord);
      } catch {
        // A line being written right now.
      }
    }
  }
  return records;
}

async function waitFor(what: string, test: () => boolean, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function resumeCheck(logDir: string): Workload {
  return {
    id: 'resume-check',
    miniftpOnly: true,
    async run(ctx: BenchContext, server: BenchServer, run: number): Promise<Metrics> {
      const name = `resume-${run}.bin`;
      const disk = server.disk(name);
      if (disk === undefined) throw new Error(`${server.name} keeps no files to cut an upload in`);
      const remote = server.remote(name);
      const cutAt = Math.floor(ctx.options.bigBytes * CUT_AT);
      const child = ctx.client.spawnSftp(server.port, server.transferCreds, [
        `put "${ctx.files.big}" "${remote}"`,
      ]);
      const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
      let finished = false;
      void exited.then(() => (finished = true));
      await waitFor('the upload to reach 60%', () => {
        if (finished) throw new Error('the upload ended before it could be cut');
        try {
          return fs.statSync(disk).size >= cutAt;
        } catch {
          return false;
        }
      });
      child.kill('SIGKILL');
      await exited;
      // The server closes the file when it sees the connection drop; that is when it records the prefix.
      await waitFor('the server to close the cut file', () =>
        logRecords(logDir).some((r) => r.event === 'file.closed' && r.path === remote),
      );
      const offset = fs.statSync(disk).size;
      const md5 = await prefixMd5(ctx.files.big, offset);
      const creds = server.transferCreds;
      const conn = await connectClient(server.port, {
        user: creds.user,
        password: creds.password,
        privateKey: creds.identity ? fs.readFileSync(creds.identity) : undefined,
      });
      let ms: number;
      try {
        const sftp = await SftpChannel.open(conn);
        const started = process.hrtime.bigint();
        const handle = await sftp.resumeUpload(remote, offset, md5);
        ms = Number(process.hrtime.bigint() - started) / 1e6;
        await sftp.close(handle);
        await sftp.end();
      } finally {
        await endClient(conn);
      }
      const accepted = logRecords(logDir).filter(
        (r) => r.event === 'resume.accepted' && r.path === remote,
      );
      fs.rmSync(disk, { force: true });
      const ledger = accepted.at(-1)?.from_ledger;
      ctx.notes.push(
        `resume-check run ${run + 1}: cut at ${offset} bytes (${((100 * offset) / ctx.options.bigBytes).toFixed(1)}%), ` +
          `prefix MD5 ${ledger === true ? 'from the upload ledger' : ledger === false ? 'recomputed from the file' : 'source not logged'}`,
      );
      return { resume: ms };
    },
  };
}
