/**
 * Tab completion on the client's command line: command names, then local or
 * remote paths by the command and the argument, against a real server.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { commandCompleter, sideOf } from '../../src/client/completion';
import { connect, type Connection } from '../../src/client/connect';
import { ClientSession } from '../../src/client/session';
import { TransferQueue } from '../../src/client/transfer-queue';
import { LineEditor, complete } from '../../src/client/ui/line-editor';
import { startTestServer, type TestServer } from '../helpers/server';

describe('client tab completion', function () {
  this.timeout(20_000);
  let server: TestServer;
  let work: string;
  let c: Connection;
  let session: ClientSession;

  /** Types `text`, presses Tab; returns the line and the candidates shown. */
  const tab = async (text: string): Promise<{ line: string; shown: string[] }> => {
    const editor = new LineEditor();
    editor.set(text);
    const shown = await complete(editor, commandCompleter(session));
    return { line: editor.text, shown };
  };

  before(async () => {
    server = await startTestServer();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-client-completion-'));
    await fsp.mkdir(path.join(work, 'local dir'));
    await fsp.writeFile(path.join(work, 'local dir', 'notes.txt'), 'x');
    await fsp.writeFile(path.join(work, 'lonely.bin'), 'x');
    const home = server.home('zhangsan');
    await fsp.mkdir(path.join(home, 'reports'));
    await fsp.writeFile(path.join(home, 'reports', 'q1.csv'), 'x');
    await fsp.writeFile(path.join(home, 'reports', 'q2.csv'), 'x');
    await fsp.writeFile(path.join(home, 'readme.md'), 'x');
    c = await connect({
      host: server.host,
      port: server.port,
      username: 'zhangsan',
      password: '123',
    });
    session = new ClientSession({
      sftp: c.sftp,
      queue: new TransferQueue({ sftp: c.sftp }),
      localCwd: work,
      remoteHome: await c.sftp.realpath('.'),
    });
  });

  after(async () => {
    await c.close();
    await server.stop();
    await fsp.rm(work, { recursive: true, force: true });
  });

  it('completes command names, and lists them when several fit', async () => {
    expect((await tab('mir')).line).to.equal('mirror ');
    const r = await tab('l');
    expect(r.line).to.equal('l');
    expect(r.shown).to.include.members(['lcd', 'lls', 'lpwd', 'lmkdir', 'ls']);
    expect((await tab('help mkd')).line).to.equal('help mkdir ');
  });

  it('completes remote paths for get, cd and rm, folders with a slash', async () => {
    expect((await tab('get rep')).line).to.equal('get reports/');
    const r = await tab('get reports/q');
    expect(r.line).to.equal('get reports/q');
    expect(r.shown).to.deep.equal(['reports/q1.csv', 'reports/q2.csv']);
    expect((await tab('cd re')).shown).to.deep.equal(['reports/', 'readme.md']);
    expect((await tab('rm readm')).line).to.equal('rm readme.md ');
  });

  it('completes local paths for put and lcd, escaping spaces, and remote for put TARGET', async () => {
    expect((await tab('put loc')).line).to.equal('put local\\ dir/');
    expect((await tab('put local\\ dir/no')).line).to.equal('put local\\ dir/notes.txt ');
    expect((await tab('lcd lon')).line).to.equal('lcd lonely.bin ');
    expect((await tab('put lonely.bin rep')).line).to.equal('put lonely.bin reports/');
    expect((await tab('get readme.md lon')).line).to.equal('get readme.md lonely.bin ');
  });

  it('knows each argument side, mirror -R included', () => {
    expect(sideOf('mirror', 0, [])).to.equal('remote');
    expect(sideOf('mirror', 1, [])).to.equal('local');
    expect(sideOf('mirror', 0, ['-R'])).to.equal('local');
    expect(sideOf('mirror', 1, ['-R'])).to.equal('remote');
    expect(sideOf('mput', 0, [])).to.equal('local');
    expect(sideOf('pwd', 0, [])).to.equal(undefined);
  });
});
