/** The parts of the cluster that need no server: bus messages, shared login counting, worker shares. */
import { expect } from 'chai';
import { LoginThrottle, type LoginEvent } from '../../src/auth/throttle';
import { loadConfig } from '../../src/config/load';
import { decode, encode } from '../../src/main/cluster-bus';
import { MAX_RESTART_DELAY_MS, RESTART_DELAY_MS, restartDelay } from '../../src/main/primary';
import { workerCount, workerShare } from '../../src/main/worker-share';

describe('cluster parts', () => {
  describe('bus messages', () => {
    it('decodes what it encodes, and nothing malformed', () => {
      const kick = { from: 'a:1', m: { t: 'kick' as const, id: 'k-1', reason: 'kicked by admin' } };
      expect(decode(encode(kick))).to.deep.equal(kick);
      const login = {
        from: 'b:2',
        m: {
          t: 'login' as const,
          event: { kind: 'failure' as const, ip: '10.0.0.1', account: 'bob', password: true },
        },
      };
      expect(decode(encode(login))).to.deep.equal(login);
      for (const bad of [
        'not json',
        '[]',
        '{"from":"a:1"}',
        '{"from":"a:1","m":{"t":"kick","id":7,"reason":"x"}}',
        '{"from":"a:1","m":{"t":"reboot"}}',
        '{"from":"a:1","m":{"t":"login","event":{"kind":"failure","ip":"1.2.3.4"}}}',
        '{"from":3,"m":{"t":"quota","user":"bob"}}',
      ]) {
        expect(decode(bad), bad).to.equal(undefined);
      }
    });
  });

  describe('login counting shared between processes', () => {
    const options = { threshold: 4, windowSeconds: 60, banSeconds: 300 };

    it('bans on both when the failures were spread over them', () => {
      const a = new LoginThrottle(options);
      const b = new LoginThrottle(options);
      // Each one tells the other what it recorded, as the bus does.
      a.onRecord((e) => b.apply(e));
      b.onRecord((e) => a.apply(e));
      a.recordFailure('10.0.0.9', 'bob');
      b.recordFailure('10.0.0.9', 'bob');
      a.recordFailure('10.0.0.9', 'bob');
      expect(a.isBanned('10.0.0.9') || b.isBanned('10.0.0.9')).to.equal(false);
      expect(b.recordFailure('10.0.0.9', 'bob').banned).to.equal(true);
      expect(a.isBanned('10.0.0.9')).to.equal(true);
      expect(b.isBanned('10.0.0.9')).to.equal(true);
    });

    it('tells only what was recorded here, and applies a success elsewhere as a forgiveness', () => {
      const a = new LoginThrottle(options);
      const told: LoginEvent[] = [];
      a.onRecord((e) => told.push(e));
      a.apply({ kind: 'failure', ip: '10.0.0.1', account: 'bob', password: true });
      expect(told).to.deep.equal([]);
      a.recordFailure('10.0.0.1', 'bob');
      a.recordSuccess('10.0.0.1', 'bob');
      expect(told).to.deep.equal([
        { kind: 'failure', ip: '10.0.0.1', account: 'bob', password: true },
        { kind: 'success', ip: '10.0.0.1', account: 'bob' },
      ]);
      // The success from another process forgave bob's failures here too.
      const b = new LoginThrottle(options);
      for (let i = 0; i < 3; i++) b.recordFailure('10.0.0.2', 'bob');
      b.apply({ kind: 'success', ip: '10.0.0.2', account: 'bob' });
      expect(b.recordFailure('10.0.0.2', 'bob').banned).to.equal(false);
    });
  });

  describe('workers', () => {
    it('reads --workers as a count or auto, and refuses anything else', () => {
      const load = (argv: string[]) =>
        loadConfig({ argv, env: {}, cwd: '/tmp', defaultsFile: null });
      expect(load([]).cluster.workers).to.equal(1);
      expect(load(['--workers', '3']).cluster.workers).to.equal(3);
      expect(load(['--workers', 'AUTO']).cluster.workers).to.equal('auto');
      expect(() => load(['--workers', '0'])).to.throw(/workers must be auto or an integer from 1/);
      expect(() => load(['--workers', 'many'])).to.throw(/workers must be auto or an integer/);
      expect(workerCount('auto', 6)).to.equal(6);
      expect(workerCount(2, 6)).to.equal(2);
    });

    it('puts the homes in <dataDir>/docs unless --homes-dir says otherwise', () => {
      const load = (argv: string[]) =>
        loadConfig({ argv, env: {}, cwd: '/srv', defaultsFile: null });
      expect(load(['--data-dir', 'd']).cluster.homesDir).to.equal('/srv/d/docs');
      expect(load(['--homes-dir', 'shared/homes']).cluster.homesDir).to.equal('/srv/shared/homes');
    });

    it("divides the machine's limits among the workers and keeps the per-user ones", () => {
      const config = loadConfig({
        argv: ['--max-connections', '201', '--hashing-threads', '4'],
        env: {},
        cwd: '/tmp',
        defaultsFile: null,
      });
      expect(workerShare(config, 1)).to.equal(config);
      const share = workerShare(config, 2);
      expect(share.limits.maxConnections).to.equal(101);
      expect(share.limits.maxUnauthenticated).to.equal(
        Math.ceil(config.limits.maxUnauthenticated / 2),
      );
      expect(share.limits.unauthenticatedDropStart).to.be.at.most(share.limits.maxUnauthenticated);
      expect(share.limits.maxListingMemory).to.equal(config.limits.maxListingMemory / 2);
      expect(share.hashing.threads).to.equal(2);
      expect(share.limits.maxSessionsPerUser).to.equal(config.limits.maxSessionsPerUser);
      expect(share.limits.maxConnectionsPerIp).to.equal(config.limits.maxConnectionsPerIp);
      // The automatic thread count is divided too, and never below one.
      expect(
        workerShare({ ...config, hashing: { ...config.hashing, threads: 0 } }, 8, 3).hashing
          .threads,
      ).to.equal(1);
    });

    it('waits longer before replacing a worker that keeps dying at once, and starts over after a long life', () => {
      expect(restartDelay(100, undefined)).to.equal(RESTART_DELAY_MS);
      expect(restartDelay(100, RESTART_DELAY_MS)).to.equal(2 * RESTART_DELAY_MS);
      expect(restartDelay(100, MAX_RESTART_DELAY_MS)).to.equal(MAX_RESTART_DELAY_MS);
      expect(restartDelay(60_000, 8 * RESTART_DELAY_MS)).to.equal(RESTART_DELAY_MS);
    });
  });
});
