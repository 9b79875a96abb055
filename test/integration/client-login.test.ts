/**
 * How the client logs in (src/client/connect.ts) against a real server: the
 * host key is checked before any password is asked for, a wrong password is
 * asked for again (three tries in all), and the time a user spends answering
 * does not count against the connect timeout.
 */
import * as net from 'node:net';
import { expect } from 'chai';
import { parseAuthorizedKey } from '../../src/auth/public-keys';
import { connect, type Connection, type ConnectOptions } from '../../src/client/connect';
import { AuthenticationError, ClientError, HostKeyRejectedError } from '../../src/client/errors';
import { startTestServer, type TestServer } from '../helpers/server';
import { generateKeyPair } from '../../src/auth/keygen';

async function failure(p: Promise<Connection>): Promise<unknown> {
  return p.then(
    async (c) => {
      await c.close();
      return expect.fail('expected the login to fail');
    },
    (err: unknown) => err,
  );
}

describe('client login', function () {
  let server: TestServer;
  const base = (): ConnectOptions => ({
    host: server.host,
    port: server.port,
    username: 'zhangsan',
  });

  before(async () => {
    server = await startTestServer();
  });

  after(async () => {
    await server.stop();
  });

  it('asks for the password only after the host key was accepted, and again after a wrong one', async () => {
    const events: string[] = [];
    const c = await connect({
      ...base(),
      hostKeyCheck: () => {
        events.push('host key');
        return true;
      },
      askPassword: async (attempt) => {
        events.push(`password ${attempt}`);
        return attempt < 3 ? 'wrong' : '123';
      },
    });
    try {
      expect(events).to.deep.equal(['host key', 'password 1', 'password 2', 'password 3']);
      expect(await c.sftp.realpath('.')).to.equal('/');
    } finally {
      await c.close();
    }
  });

  it('never asks for a password when the host key is refused', async () => {
    let asked = 0;
    const err = await failure(
      connect({
        ...base(),
        hostKeyCheck: () => false,
        askPassword: async () => {
          asked++;
          return '123';
        },
      }),
    );
    expect(err).to.be.instanceOf(HostKeyRejectedError);
    expect(asked).to.equal(0);
  });

  it('gives up after three wrong passwords, saying so', async () => {
    let asked = 0;
    const err = await failure(
      connect({
        ...base(),
        askPassword: async () => {
          asked++;
          return 'wrong';
        },
      }),
    );
    expect(asked).to.equal(3);
    expect(err).to.be.instanceOf(AuthenticationError);
    expect((err as Error).message).to.equal(
      'authentication failed: wrong user name or password (3 tries)',
    );
  });

  it('sends a password given up front once, and asks for none', async () => {
    const err = await failure(connect({ ...base(), password: 'wrong' }));
    expect(err).to.be.instanceOf(AuthenticationError);
    expect((err as Error).message).to.equal('authentication failed: wrong user name or password');
  });

  it('tries the key first and asks for the password only when the key is refused', async () => {
    const known = generateKeyPair('ed25519');
    const unknown = generateKeyPair('ed25519');
    await server.store.keys.add({ user: 'zhangsan', ...parseAuthorizedKey(known.public) });
    let asked = 0;
    const askPassword = async (): Promise<string> => {
      asked++;
      return '123';
    };
    const byKey = await connect({ ...base(), privateKey: known.private, askPassword });
    await byKey.close();
    expect(asked).to.equal(0);
    const byPassword = await connect({ ...base(), privateKey: unknown.private, askPassword });
    await byPassword.close();
    expect(asked).to.equal(1);
    const err = await failure(connect({ ...base(), privateKey: known.public, askPassword }));
    expect((err as Error).message).to.equal('cannot use the key: it is a public key');
  });

  it('does not count the time spent on the questions against the timeout', async () => {
    // Longer than the timeout each: ssh2's own ready timeout would have fired.
    const slowAnswer = <T>(value: T): Promise<T> =>
      new Promise((resolve) => setTimeout(() => resolve(value), 400));
    const c = await connect({
      ...base(),
      readyTimeout: 250,
      hostKeyCheck: () => slowAnswer(true),
      askPassword: () => slowAnswer('123'),
    });
    await c.close();
  });

  it('times out on a server that never speaks', async () => {
    // It reads (so it sees the client hang up) but never writes.
    const silent = net.createServer((socket) => socket.on('error', () => undefined).resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const err = await failure(
        connect({
          host: '127.0.0.1',
          port,
          username: 'zhangsan',
          password: '123',
          readyTimeout: 200,
        }),
      );
      expect(err).to.be.instanceOf(ClientError);
      expect((err as Error).message).to.match(/^cannot connect: no answer from 127\.0\.0\.1:\d+/);
    } finally {
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  describe('when the server ends the login while the user is still being asked', () => {
    let strict: TestServer;

    before(async () => {
      strict = await startTestServer({ flags: ['--login-grace-time', '1'] });
    });

    after(async () => {
      await strict.stop();
    });

    it('cancels the question and reports the closed connection', async () => {
      let signal: AbortSignal | undefined;
      const err = await failure(
        connect({
          host: strict.host,
          port: strict.port,
          username: 'zhangsan',
          // A user who walked away: answers only when told the question is moot.
          askPassword: (_attempt, s) =>
            new Promise((_resolve, reject) => {
              signal = s;
              s.addEventListener('abort', () => reject(new Error('cancelled')));
            }),
        }),
      );
      expect(signal?.aborted).to.equal(true);
      expect(err).to.be.instanceOf(ClientError);
      expect((err as Error).message).to.equal(
        'the server closed the connection before the login was complete',
      );
    });
  });
});
