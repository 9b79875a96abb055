/**
 * Keyboard-interactive login (servers with a second factor): the client shows
 * each prompt as the server sends it and answers with what the user typed.
 */
import { expect } from 'chai';
import { connect } from '../../src/client/connect';
import { startTestServer, type TestServer } from '../helpers/server';

describe('client keyboard-interactive login', function () {
  this.timeout(20_000);
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });

  after(async () => {
    await server.stop();
  });

  it('shows the server prompts as they come and logs in with the answers', async () => {
    const asked: string[] = [];
    const c = await connect({
      host: server.host,
      port: server.port,
      username: 'zhangsan',
      answerPrompts: async ({ prompts }) => {
        asked.push(...prompts.map((p) => `${p.prompt}|${p.echo}`));
        return ['123'];
      },
    });
    expect(asked).to.deep.equal(['Password: |false']);
    expect(await c.sftp.realpath('.')).to.equal('/');
    await c.close();
  });

  it('says the answers were refused when they are wrong', async () => {
    let err: unknown;
    await connect({
      host: server.host,
      port: server.port,
      username: 'zhangsan',
      passwordTries: 1,
      answerPrompts: async () => ['wrong'],
    }).catch((e: unknown) => (err = e));
    expect(String(err)).to.include('the server did not accept the answers to its login questions');
  });
});
