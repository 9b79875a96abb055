/**
 * `npm run bench -- --rtt 40` (or `--rtt 10,40,100`): the transfers again
 * through a delay line (test/helpers/delay-line.ts) in front of each server, at each
 * round-trip time given:
 *
 * - one big file up and down with the stock OpenSSH `sftp`, to MiniFTP and to
 *   OpenSSH's sshd, and with MiniFTP's own client to MiniFTP;
 * - a folder of small files: MiniFTP's client (`put DIR`) to MiniFTP against
 *   the stock `sftp put -r` to OpenSSH;
 * - the peak RSS of MiniFTP while 8 stock clients upload through the line at
 *   once and 42 more sessions sit open (50 in all).
 *
 * The stock client's times are taken inside its batch (`!date`), so its login
 * is left out. MiniFTP's client is timed from the moment its batch echoes the
 * command (logged in, starting it) to its exit.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startDelayLine, type DelayLine } from '../test/helpers/delay-line';
import { median } from './metrics';
import type { BenchOptions } from './options';
import type { ChildRegistry, CommandResult } from './proc';
import type { BenchServer } from './servers';
import {
  checkUpload,
  ensureOk,
  mbPerSecond,
  q,
  readStamps,
  stampFile,
  transferOne,
  withPeakRss,
  type BenchContext,
} from './workloads';

const MiB = 1024 * 1024;
/** Sessions open during the RSS measurement, of which 8 upload. */
const SESSIONS = 50;
const UPLOADERS = 8;

export interface LongLinkRow {
  rttMs: number;
  /** MB/s, stock sftp. */
  uploadMiniftp: number;
  uploadOpenssh: number;
  downloadMiniftp: number;
  downloadOpenssh: number;
  /** MB/s, MiniFTP's client to MiniFTP. */
  clientUpload: number;
  clientDownload: number;
  /** Seconds for the small files. */
  smallClient: number;
  smallOpensshPutR: number;
  /** MiB, MiniFTP's peak RSS with 8 uploading and 50 sessions open. */
  rssPeak: number | undefined;
}

export interface LongLinkSetup {
  ctx: BenchContext;
  children: ChildRegistry;
  miniftp: BenchServer;
  openssh: BenchServer;
  /** The repository root (bin/miniftp.js). */
  repo: string;
  /** The private key MiniFTP's client logs in with (registered through the console). */
  identity: string | undefined;
  say(line: string): void;
}

/** The same server, reached through the delay line. */
function via(server: BenchServer, line: DelayLine): BenchServer {
  return { ...server, port: line.port };
}

/** Runs MiniFTP's client in batch mode with `commands`; resolves with the whole run. */
function miniftpClient(s: LongLinkSetup, port: number, commands: string[]): Promise<CommandResult> {
  const knownHosts = path.join(s.ctx.scratch, 'miniftp-known-hosts');
  const creds = s.identity ? ['-i', s.identity] : [];
  return s.children.run(
    process.execPath,
    [
      path.join(s.repo, 'bin', 'miniftp.js'),
      '-p',
      String(port),
      ...creds,
      '--known-hosts',
      knownHosts,
      '--accept-new-host-key',
      '-b',
      '-',
      'zhangsan@127.0.0.1',
    ],
    {
      env: { ...process.env, MINIFTP_PASSWORD: '123' },
      input: `${commands.join('\n')}\n`,
      timeoutMs: 15 * 60 * 1000,
      // The batch echoes each command as it starts it: the login is over by then.
      mark: /^miniftp> /m,
    },
  );
}

/**
 * Runs one command in MiniFTP's client; its time, from the moment the client
 * echoes the command (logged in, starting it) to its exit.
 */
async function clientTransferMs(
  s: LongLinkSetup,
  port: number,
  command: string,
  what: string,
): Promise<number> {
  const r = await miniftpClient(s, port, [command]);
  ensureOk(r, what);
  if (r.markMs === undefined) throw new Error(`${what}: the client never echoed its command`);
  return Math.max(1, r.ms - r.markMs);
}

/** Stock sftp `put -r` of the small-files folder, timed inside the batch. */
async function putR(s: LongLinkSetup, server: BenchServer, name: string): Promise<number> {
  const stamp = stampFile(s.ctx);
  const r = await s.ctx.client.sftp(server.port, server.transferCreds, [
    stamp.line,
    `put -r ${q(s.ctx.files.smallDir)} ${q(server.remote(name))}`,
    stamp.line,
  ]);
  ensureOk(r, 'put -r');
  const [start, end] = readStamps(stamp.file, 2) as [number, number];
  return end - start;
}

function countFiles(dir: string | undefined): number {
  if (dir === undefined || !fs.existsSync(dir)) return -1;
  return fs.readdirSync(dir).length;
}

/** Resolves once the session's first command has been answered (or it ended). */
function loggedIn(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    let seen = '';
    child.stdout?.on('data', (d: Buffer) => {
      seen += d.toString();
      if (/Remote working directory/.test(seen)) resolve();
    });
    child.once('exit', () => resolve());
  });
}

/** 8 stock clients upload through the line while 42 more sessions sit open; MiniFTP's peak RSS. */
async function rssUnderLoad(s: LongLinkSetup, server: BenchServer): Promise<number> {
  const o = s.ctx.options;
  // Logged in a few at a time: the server refuses more than 16 logins at once from one address.
  const idle: ChildProcess[] = [];
  try {
    while (idle.length < SESSIONS - UPLOADERS) {
      const group = Array.from({ length: Math.min(8, SESSIONS - UPLOADERS - idle.length) }, () =>
        s.ctx.client.openSession(server.port, server.transferCreds, ['pwd']),
      );
      idle.push(...group);
      await Promise.all(group.map((child) => loggedIn(child)));
    }
    const names = Array.from({ length: UPLOADERS }, (_, i) => `ll-conc-${i}.bin`);
    const { peakMiB } = await withPeakRss(server, () =>
      Promise.all(
        names.map(async (name) => {
          const r = await s.ctx.client.sftp(server.port, server.transferCreds, [
            `put ${q(s.ctx.files.concurrent)} ${q(server.remote(name))}`,
          ]);
          ensureOk(r, 'concurrent upload');
        }),
      ),
    );
    for (const name of names) checkUpload(server, name, o.concurrentBytes, 'a concurrent upload');
    return peakMiB;
  } finally {
    // EOF on its batch ends each idle session; a kill only for one that does not.
    await Promise.all(
      idle.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.stdin?.end();
          }),
      ),
    );
  }
}

export async function longLink(s: LongLinkSetup): Promise<LongLinkRow[]> {
  const o: BenchOptions = s.ctx.options;
  const rows: LongLinkRow[] = [];
  const bytes = o.bigBytes;
  const source = s.ctx.files.big;
  for (const rtt of o.rtts) {
    s.say(`long link, ${rtt} ms round trip:`);
    const lineM = await startDelayLine(s.miniftp.port, rtt);
    const lineO = await startDelayLine(s.openssh.port, rtt);
    try {
      const m = via(s.miniftp, lineM);
      const x = via(s.openssh, lineO);
      const stockUp = async (server: BenchServer): Promise<number> => {
        const name = `ll-up-${rtt}.bin`;
        const ms = await transferOne(
          s.ctx,
          server,
          `put ${q(source)} ${q(server.remote(name))}`,
          'upload',
        );
        checkUpload(server, name, bytes, 'the upload');
        return mbPerSecond(bytes, ms);
      };
      const stockDown = async (server: BenchServer): Promise<number> => {
        const name = `ll-src-${rtt}.bin`;
        const disk = server.disk(name) as string;
        fs.linkSync(source, disk);
        const local = path.join(s.ctx.scratch, `ll-dl-${server.name}.bin`);
        try {
          const ms = await transferOne(
            s.ctx,
            server,
            `get ${q(server.remote(name))} ${q(local)}`,
            'download',
          );
          if (fs.statSync(local).size !== bytes) throw new Error('the download is short');
          return mbPerSecond(bytes, ms);
        } finally {
          fs.rmSync(local, { force: true });
          fs.rmSync(disk, { force: true });
        }
      };
      const row: Partial<LongLinkRow> = { rttMs: rtt };
      /** `--runs` runs of each, alternating; the medians, and every run for the log. */
      const alternate = async (
        a: () => Promise<number>,
        b: () => Promise<number>,
      ): Promise<[number, number, string]> => {
        const as: number[] = [];
        const bs: number[] = [];
        for (let i = 0; i < o.runs; i++) {
          as.push(await a());
          bs.push(await b());
        }
        const each = `runs ${as.map((v) => v.toFixed(1)).join(' / ')} and ${bs.map((v) => v.toFixed(1)).join(' / ')}`;
        return [median(as) ?? 0, median(bs) ?? 0, each];
      };
      const [upM, upX, upRuns] = await alternate(
        () => stockUp(m),
        () => stockUp(x),
      );
      row.uploadMiniftp = upM;
      row.uploadOpenssh = upX;
      s.say(
        `  stock sftp upload: MiniFTP ${upM.toFixed(1)} MB/s, OpenSSH ${upX.toFixed(1)} MB/s (${upRuns})`,
      );
      const [downM, downX, downRuns] = await alternate(
        () => stockDown(m),
        () => stockDown(x),
      );
      row.downloadMiniftp = downM;
      row.downloadOpenssh = downX;
      s.say(
        `  stock sftp download: MiniFTP ${downM.toFixed(1)} MB/s, OpenSSH ${downX.toFixed(1)} MB/s (${downRuns})`,
      );

      const clientUp = async (): Promise<number> => {
        const upName = `ll-client-up-${rtt}.bin`;
        const upMs = await clientTransferMs(
          s,
          m.port,
          `put ${q(source)} ${q(m.remote(upName))}`,
          "MiniFTP's client upload",
        );
        checkUpload(m, upName, bytes, "MiniFTP's client upload");
        fs.rmSync(m.disk(upName) as string, { force: true });
        return mbPerSecond(bytes, upMs);
      };
      const clientDown = async (): Promise<number> => {
        const srcName = `ll-client-src-${rtt}.bin`;
        const srcDisk = m.disk(srcName) as string;
        fs.linkSync(source, srcDisk);
        const local = path.join(s.ctx.scratch, 'll-client-dl.bin');
        try {
          const downMs = await clientTransferMs(
            s,
            m.port,
            `get ${q(m.remote(srcName))} ${q(local)}`,
            "MiniFTP's client download",
          );
          if (fs.statSync(local).size !== bytes)
            throw new Error("MiniFTP's client download is short");
          return mbPerSecond(bytes, downMs);
        } finally {
          fs.rmSync(local, { force: true });
          fs.rmSync(srcDisk, { force: true });
        }
      };
      const [cUp, cDown, clientRuns] = await alternate(clientUp, clientDown);
      row.clientUpload = cUp;
      row.clientDownload = cDown;
      s.say(
        `  MiniFTP's client: upload ${cUp.toFixed(1)} MB/s, download ${cDown.toFixed(1)} MB/s (${clientRuns})`,
      );

      const smallName = `ll-small-${rtt}`;
      const smallMs = await clientTransferMs(
        s,
        m.port,
        `put ${q(s.ctx.files.smallDir)} ${q(m.remote(smallName))}`,
        "MiniFTP's client put of a folder",
      );
      const got = countFiles(m.disk(smallName));
      if (got !== o.smallFiles)
        throw new Error(`MiniFTP's client left ${got} of ${o.smallFiles} small files`);
      row.smallClient = smallMs / 1000;
      const putRMs = await putR(s, x, smallName);
      const gotX = countFiles(x.disk(smallName));
      if (gotX !== o.smallFiles)
        throw new Error(`put -r left ${gotX} of ${o.smallFiles} small files`);
      row.smallOpensshPutR = putRMs / 1000;
      for (const server of [m, x]) {
        const dir = server.disk(smallName);
        if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
      }
      s.say(
        `  ${o.smallFiles} × ${o.smallFileBytes} B: MiniFTP's client ${row.smallClient.toFixed(2)} s, stock put -r to OpenSSH ${row.smallOpensshPutR.toFixed(2)} s`,
      );

      if (rtt === 40 || o.rtts.length === 1) {
        row.rssPeak = await rssUnderLoad(s, m);
        s.say(
          `  peak RSS of MiniFTP, ${UPLOADERS} uploading of ${SESSIONS} sessions: ${row.rssPeak.toFixed(1)} MiB`,
        );
      }
      rows.push(row as LongLinkRow);
    } finally {
      await lineM.close();
      await lineO.close();
    }
  }
  return rows;
}

const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a');
const pass = (ok: boolean): string => (ok ? 'PASS' : 'MISS');

/** The table of the long-link runs, with the bars (at 40 ms). */
export function formatLongLink(rows: LongLinkRow[], o: BenchOptions): string {
  const out: string[] = [
    `Long links (delay line, ${(o.bigBytes / MiB).toFixed(0)} MiB file, ${o.smallFiles} × ${o.smallFileBytes} B; MB/s unless said)`,
  ];
  for (const r of rows) {
    const up = r.uploadMiniftp / r.uploadOpenssh;
    const down = r.clientDownload / r.downloadOpenssh;
    const small = r.smallClient / r.smallOpensshPutR;
    const bars = r.rttMs === 40;
    out.push(
      `  ${r.rttMs} ms round trip`,
      `    stock sftp upload      MiniFTP ${r.uploadMiniftp.toFixed(1).padStart(7)}  OpenSSH ${r.uploadOpenssh.toFixed(1).padStart(7)}  ratio ${ratio(r.uploadMiniftp, r.uploadOpenssh)}${bars ? `  bar >= 4×: ${pass(up >= 4)}` : ''}`,
      `    stock sftp download    MiniFTP ${r.downloadMiniftp.toFixed(1).padStart(7)}  OpenSSH ${r.downloadOpenssh.toFixed(1).padStart(7)}  ratio ${ratio(r.downloadMiniftp, r.downloadOpenssh)}`,
      `    MiniFTP client upload  ${r.clientUpload.toFixed(1).padStart(7)}   vs stock to OpenSSH ${ratio(r.clientUpload, r.uploadOpenssh)}`,
      `    MiniFTP client download ${r.clientDownload.toFixed(1).padStart(6)}   vs stock from OpenSSH ${ratio(r.clientDownload, r.downloadOpenssh)}${bars ? `  bar >= 4×: ${pass(down >= 4)}` : ''}`,
      `    small files            MiniFTP client ${r.smallClient.toFixed(2)} s  stock put -r to OpenSSH ${r.smallOpensshPutR.toFixed(2)} s  ratio ${small.toFixed(3)}×${bars ? `  bar <= 0.1×: ${pass(small <= 0.1)}` : ''}`,
    );
    if (r.rssPeak !== undefined) {
      out.push(
        `    peak RSS of MiniFTP, ${UPLOADERS} of ${SESSIONS} sessions uploading ${(o.concurrentBytes / MiB).toFixed(0)} MiB each: ${r.rssPeak.toFixed(1)} MiB  bar <= 300 MiB: ${pass(r.rssPeak <= 300)}`,
      );
    }
  }
  return out.join('\n');
}
