/**
 * Operations end to end: an upload and a download with OpenSSH's sftp, then the
 * Prometheus scrape (counters and the request latency histogram), and the upload.completed event
 * at a local HTTP receiver (signature, SHA-256 and MD5 of the file) and at a hook command.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { HookReceiver } from '../helpers/hook-receiver';
import { sftpBatch } from '../helpers/openssh';
import { waitUntil } from '../helpers/probe';
import { startTestServer, type TestServer } from '../helpers/server';

const ZS = { user: 'zhangsan', password: '123' };
const SECRET = 'hook-secret-for-tests';

async function scrape(server: TestServer): Promise<string> {
  const at = server.metrics;
  if (!at) throw new Error('no metrics listener');
  const res = await fetch(`http://${at.host}:${at.port}/metrics`);
  expect(res.status).to.equal(200);
  return res.text();
}

/** The value of one sample line, e.g. metric('miniftp_files_total{direction="in"}'). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

describe('ops: metrics and upload hooks', function () {
  this.timeout(60000);
  let server: TestServer;
  let receiver: HookReceiver;
  let work: string;
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const md5 = createHash('md5').update(data).digest('hex');

  before(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-ops-'));
    await fsp.writeFile(path.join(work, 'up.bin'), data);
    receiver = new HookReceiver();
    const url = await receiver.listen();
    server = await startTestServer({
      flags: [
        '--metrics-listen',
        '127.0.0.1:0',
        '--hook-url',
        url,
        '--hook-secret',
        SECRET,
        '--hook-command',
        `/usr/bin/tee -a '${path.join(work, 'events.jsonl')}'`,
      ],
    });
  });

  after(async () => {
    await server.stop();
    await receiver.close();
    await fsp.rm(work, { recursive: true, force: true });
  });

  it('delivers upload.completed with the SHA-256 and a valid signature to the URL and the command', async () => {
    const run = await sftpBatch(server.port, ZS, ['put up.bin /up.bin'], { cwd: work });
    expect(run.code, run.stderr).to.equal(0);
    await waitUntil('the upload event', () =>
      receiver.received.some((r) => r.json.event === 'upload.completed'),
    );
    const got = receiver.received.find((r) => r.json.event === 'upload.completed');
    if (!got) throw new Error('no event');
    expect(got.json).to.include({
      user: 'zhangsan',
      path: '/up.bin',
      size: data.length,
      sha256,
      md5,
      address: '127.0.0.1',
    });
    // The node as the cluster names it: by default the host name and the process id.
    expect(String(got.json.node)).to.match(new RegExp(`^${os.hostname()}(-\\d+)?$`));
    expect(got.json).to.not.have.property('_mtimeMs');
    const expected = `sha256=${createHmac('sha256', SECRET).update(got.body).digest('hex')}`;
    expect(got.headers['x-miniftp-signature']).to.equal(expected);
    expect(got.headers['x-miniftp-event']).to.equal('upload.completed');
    // The command got the same event on its standard input.
    const lines = (await fsp.readFile(path.join(work, 'events.jsonl'), 'utf8')).trim().split('\n');
    const viaCommand = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(viaCommand.find((e) => e.event === 'upload.completed')).to.deep.equal(got.json);
  });

  it('counts the transfers, logins and request latency in /metrics', async () => {
    const run = await sftpBatch(server.port, ZS, ['get /up.bin down.bin'], { cwd: work });
    expect(run.code, run.stderr).to.equal(0);
    expect((await fsp.readFile(path.join(work, 'down.bin'))).equals(data)).to.equal(true);
    const text = await scrape(server);
    expect(sample(text, 'miniftp_transfer_bytes_total{user="zhangsan",direction="in"}')).to.equal(
      data.length,
    );
    expect(sample(text, 'miniftp_transfer_bytes_total{user="zhangsan",direction="out"}')).to.equal(
      data.length,
    );
    expect(sample(text, 'miniftp_files_total{direction="in"}')).to.equal(1);
    expect(sample(text, 'miniftp_files_total{direction="out"}')).to.equal(1);
    expect(sample(text, 'miniftp_logins_total{method="password",result="ok"}')).to.equal(2);
    const writes = sample(text, 'miniftp_sftp_request_seconds_count{type="WRITE"}');
    // OpenSSH's sftp writes at most 256 KiB a request.
    expect(writes).to.be.at.least(Math.ceil(data.length / (256 * 1024)));
    expect(sample(text, 'miniftp_sftp_request_seconds_bucket{le="+Inf",type="WRITE"}')).to.equal(
      writes,
    );
    expect(sample(text, 'miniftp_sftp_request_seconds_count{type="READ"}')).to.be.greaterThan(0);
    expect(sample(text, 'miniftp_sessions_open{kind="sftp"}')).to.equal(0);
    expect(sample(text, 'miniftp_bans_active')).to.equal(0);
    expect(text).to.match(/^miniftp_store_seconds_count\{op="users\.get"\} \d+/m);
    expect(text).to.match(/^process_resident_memory_bytes \d+/m);
    await waitUntil('the download event', () =>
      receiver.received.some((r) => r.json.event === 'download.completed'),
    );
  });
});
