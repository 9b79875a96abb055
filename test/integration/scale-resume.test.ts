/**
 * An upload through one process of a shared data directory, that process
 * killed outright mid-upload, resumed through another: its writer lease runs
 * out, the MD5 of the prefix comes from the last checkpoint plus the tail
 * since it, and the file ends byte-exact.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import type { Client, SFTPWrapper } from 'ssh2';
import { connect } from '../../src/client/connect';
import { upload } from '../../src/client/transfer';
import { sha256File, writeRandomFile } from '../helpers/files';
import { logLines, waitUntil } from '../helpers/probe';
import { makeDataDir } from '../helpers/server';
import {
  startServerProcess,
  type ServerProcess,
  stopServerProcesses,
} from '../helpers/server-process';
import { call, connectClient, openSftp } from '../helpers/ssh-client';
import type { Store } from '../../src/store/types';
import { SHARINGS } from '../helpers/sharings';

const MiB = 1024 * 1024;
const BLOCK = 256 * 1024;

for (const sharing of SHARINGS) {
  describe(`scale: an upload resumes through another process (${sharing.name})`, function () {
    let dataDir: string;
    let localDir: string;
    let store: Store | undefined;
    const nodes: ServerProcess[] = [];

    before(async function () {
      this.timeout(60_000);
      dataDir = await makeDataDir();
      localDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-scale-resume-'));
      const shared = await sharing.setup(dataDir);
      const flags = [...shared.flags, '--lease-time', '2', '--checkpoint-every', '1M'];
      nodes.push(await startServerProcess(dataDir, flags));
      nodes.push(await startServerProcess(dataDir, flags));
      store = await shared.open();
    });

    after(async function () {
      await store?.close();
      await stopServerProcesses(nodes);
      if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
      if (localDir) await fsp.rm(localDir, { recursive: true, force: true });
    });

    it('continues from the checkpoint after the writer is killed, byte-exact', async function () {
      this.timeout(60_000);
      const [a, b] = nodes as [ServerProcess, ServerProcess];
      const local = path.join(localDir, 'big.bin');
      await writeRandomFile(local, 8 * MiB);
      const content = await fsp.readFile(local);

      const client: Client = await connectClient(a.port, { user: 'zhangsan', password: '123' });
      client.on('error', () => undefined);
      const sftp: SFTPWrapper = await openSftp(client);
      sftp.on('error', () => undefined);
      const handle = await call<Buffer>((cb) => sftp.open('/big.bin', 'w', cb));
      let acknowledged = 0;
      while (acknowledged < 3 * MiB + BLOCK) {
        await call((cb) => sftp.write(handle, content, acknowledged, BLOCK, acknowledged, cb));
        acknowledged += BLOCK;
      }
      // The first process's hashing thread has saved at least one checkpoint.
      await waitUntil(
        'a checkpoint in the store',
        async () =>
          (await (store as Store).sql.get('SELECT bytes FROM upload_checkpoints')) !== undefined,
      );
      a.child.kill('SIGKILL');
      await a.exited;

      const home = path.join(dataDir, 'docs', 'zhangsan');
      const partial = (await fsp.stat(path.join(home, 'big.bin'))).size;
      expect(partial).to.be.at.least(acknowledged);

      const conn = await connect({
        host: '127.0.0.1',
        port: b.port,
        username: 'zhangsan',
        password: '123',
      });
      try {
        const result = await upload(conn.sftp, local, '/big.bin', { resume: 'auto' });
        expect(result.resumedFrom).to.equal(partial);
        expect(result.verified).to.equal(true);
      } finally {
        await conn.close();
      }
      expect(await sha256File(path.join(home, 'big.bin'))).to.equal(await sha256File(local));
      const accepted = (await logLines(dataDir)).find((l) => l.event === 'resume.accepted');
      expect(accepted?.from_checkpoint, 'the prefix MD5 went on from a checkpoint').to.be.a(
        'number',
      );
    });
  });
}
