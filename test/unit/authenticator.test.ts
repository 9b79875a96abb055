/**
 * A failure path that is hard to reach through a real server: authentication
 * attempts that arrive after the connection was given up, and a database that
 * cannot be written meanwhile.
 */
import { expect } from 'chai';
import type { AuthContext } from 'ssh2';
import { PasswordHasher } from '../../src/auth/passwords';
import { LoginThrottle } from '../../src/auth/throttle';
import { ConnectionAuth } from '../../src/ssh/authenticator';
import { openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import { RecordingLogger } from '../helpers/fake-channel';

const FAST_ARGON2 = { memoryKiB: 19456, timeCost: 1, parallelism: 1 };

function diskFull(): Error {
  return Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
}

/** A password attempt as ssh2 hands it over; `outcome` settles on accept or reject. */
function passwordAttempt(
  username: string,
  password: string,
): { ctx: AuthContext; outcome: Promise<'accepted' | 'rejected'> } {
  let settle!: (v: 'accepted' | 'rejected') => void;
  const outcome = new Promise<'accepted' | 'rejected'>((resolve) => (settle = resolve));
  const ctx = {
    method: 'password',
    username,
    password,
    service: 'ssh-connection',
    accept: () => settle('accepted'),
    reject: () => settle('rejected'),
  };
  return { ctx: ctx as unknown as AuthContext, outcome };
}

describe('hardening (unit)', function () {
  describe('ConnectionAuth', function () {
    let store: Store;
    let hasher: PasswordHasher;

    before(async function () {
      hasher = new PasswordHasher(FAST_ARGON2);
      store = await openStore({ file: ':memory:' });
      await store.users.create({
        name: 'bob',
        passwordHash: await hasher.hash('right'),
        quotaBytes: 0,
        quotaFiles: 0,
        isAdmin: false,
      });
    });

    function auth(maxAuthTries: number): {
      auth: ConnectionAuth;
      disconnects: string[];
      accepted: string[];
    } {
      const disconnects: string[] = [];
      const accepted: string[] = [];
      const a = new ConnectionAuth({
        store,
        hasher,
        throttle: new LoginThrottle({ threshold: 100, windowSeconds: 60, banSeconds: 60 }),
        logger: new RecordingLogger(),
        maxAuthTries,
        ip: '192.0.2.1',
        hooks: {
          disconnect: (reason) => disconnects.push(reason),
          banned: () => undefined,
          admit: () => undefined,
          refuse: (reason) => disconnects.push(reason),
          accepted: (outcome) => accepted.push(outcome.user),
        },
      });
      return { auth: a, disconnects, accepted };
    }

    it('logs in even when the last-login time cannot be written', async function () {
      const { auth: a, accepted } = auth(3);
      const touch = store.users.touchLogin.bind(store.users);
      store.users.touchLogin = () => Promise.reject(diskFull());
      try {
        const attempt = passwordAttempt('bob', 'right');
        await a.handle(attempt.ctx);
        expect(await attempt.outcome).to.equal('accepted');
        expect(accepted).to.deep.equal(['bob']);
      } finally {
        store.users.touchLogin = touch;
      }
    });

    it('refuses attempts queued behind the last allowed one, even the right password', async function () {
      const { auth: a, disconnects, accepted } = auth(2);
      const attempts = [
        passwordAttempt('bob', 'wrong-1'),
        passwordAttempt('bob', 'wrong-2'),
        passwordAttempt('bob', 'right'),
      ];
      for (const { ctx } of attempts) await a.handle(ctx);
      expect(await Promise.all(attempts.map((t) => t.outcome))).to.deep.equal([
        'rejected',
        'rejected',
        'rejected',
      ]);
      expect(disconnects).to.deep.equal(['too many authentication failures']);
      expect(accepted).to.deep.equal([]);
    });

    it('does not accept a password still being verified when the connection closes', async function () {
      const { auth: a, accepted } = auth(3);
      const attempt = passwordAttempt('bob', 'right');
      const handled = a.handle(attempt.ctx);
      a.close();
      await handled;
      expect(await attempt.outcome).to.equal('rejected');
      expect(accepted).to.deep.equal([]);
    });
  });
});
