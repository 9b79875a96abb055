import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadConfig, wantsHelp } from '../../src/config/load';
import { configSchema, listSettings } from '../../src/config/schema';

describe('config', () => {
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniftp-config-'));
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function writeJson(name: string, data: unknown): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, JSON.stringify(data));
    return file;
  }

  function load(argv: string[] = [], env: NodeJS.ProcessEnv = {}) {
    return loadConfig({ argv, env, cwd: dir, defaultsFile: null });
  }

  function loadError(argv: string[] = [], env: NodeJS.ProcessEnv = {}): ConfigError {
    try {
      load(argv, env);
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      return err as ConfigError;
    }
    throw new Error('expected a ConfigError');
  }

  describe('loadConfig', () => {
    it('gives the documented defaults, with directories made absolute against cwd', () => {
      const config = load();
      expect(config.host).to.equal('127.0.0.1');
      expect(config.port).to.equal(8808);
      expect(config.dataDir).to.equal(path.join(dir, 'data'));
      expect(config.keysDir).to.equal(path.join(dir, 'keys'));
      expect(config.admin).to.deep.equal({ user: 'admin', password: 'password' });
      expect(config.demoUser).to.deep.equal({ name: 'zhangsan', password: '123' });
      expect(config.users).to.deep.equal({
        defaultQuota: 1024 ** 3,
        defaultFileQuota: 0,
        umask: 0o022,
      });
      expect(config.argon2).to.deep.equal({ memoryKiB: 19456, timeCost: 2, parallelism: 1 });
      expect(config.log).to.deep.equal({ level: 'info', stdout: true });
      expect(config.limits).to.deep.equal({
        maxConnections: 200,
        maxConnectionsPerIp: 64,
        maxUnauthenticated: 100,
        maxUnauthenticatedPerIp: 16,
        unauthenticatedDropStart: 40,
        unauthenticatedDropRate: 30,
        loginGraceTime: 20,
        idleTimeout: 900,
        maxAuthTries: 6,
        maxSessionsPerUser: 50,
        maxChannelsPerConnection: 10,
        maxHandlesPerSession: 256,
        maxHandlesPerUser: 0,
        reservedDescriptors: 0,
        maxListingMemoryPerSession: 8 * 1024 ** 2,
        maxListingMemory: 256 * 1024 ** 2,
        maxPacket: 263168,
        maxPendingRequests: 128,
        channelWindow: 64 * 1024 ** 2,
        channelWindowBudget: 0,
        banThreshold: 10,
        banWindow: 300,
        banTime: 900,
        accountLockThreshold: 20,
        accountLockTime: 300,
      });
    });

    it('reads config/default.json, which states the same defaults as the schema', () => {
      const withFile = loadConfig({ argv: [], env: {}, cwd: dir });
      expect(withFile).to.deep.equal(load());
      const file = path.resolve(__dirname, '..', '..', '..', 'config', 'default.json');
      const fromFile: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
      for (const { path: key, setting } of listSettings(configSchema())) {
        const value = key.split('.').reduce<unknown>((node, part) => {
          return typeof node === 'object' && node !== null
            ? (node as Record<string, unknown>)[part]
            : undefined;
        }, fromFile);
        expect(value, key).to.deep.equal(setting.default);
      }
    });

    it('returns a deeply frozen object', () => {
      const config = load();
      expect(Object.isFrozen(config)).to.equal(true);
      expect(Object.isFrozen(config.limits)).to.equal(true);
      expect(Object.isFrozen(config.admin)).to.equal(true);
    });

    it('applies --config files in order, then env over files, then flags over env', () => {
      const base = writeJson('base.json', { port: 1000, host: '0.0.0.0', limits: { banTime: 5 } });
      const local = writeJson('local.json', { port: 2000, users: { defaultQuota: '500M' } });
      const files = ['--config', base, '--config', local];

      const fromFiles = load(files);
      expect(fromFiles.port).to.equal(2000);
      expect(fromFiles.host).to.equal('0.0.0.0');
      expect(fromFiles.limits.banTime).to.equal(5);
      expect(fromFiles.users.defaultQuota).to.equal(500 * 1024 ** 2);

      const env = { MINIFTP_PORT: '3000', MINIFTP_USERS_DEFAULT_QUOTA: '2G' };
      const fromEnv = load(files, env);
      expect(fromEnv.port).to.equal(3000);
      expect(fromEnv.users.defaultQuota).to.equal(2 * 1024 ** 3);
      expect(fromEnv.host).to.equal('0.0.0.0');

      const fromFlags = load([...files, '--port', '4000', '--default-quota=unlimited'], env);
      expect(fromFlags.port).to.equal(4000);
      expect(fromFlags.users.defaultQuota).to.equal(0);
    });

    it('resolves a relative --config path against cwd', () => {
      writeJson('relative.json', { port: 1234 });
      expect(load(['--config', 'relative.json']).port).to.equal(1234);
    });

    it('takes flag values verbatim, even ones that look like numbers', () => {
      const config = load(['--admin-password', '1.50', '--demo-user-password=0x10']);
      expect(config.admin.password).to.equal('1.50');
      expect(config.demoUser.password).to.equal('0x10');
    });

    it('reads booleans, octal umasks and log levels from text', () => {
      expect(load(['--no-log-stdout']).log.stdout).to.equal(false);
      expect(load(['--log-stdout', 'off']).log.stdout).to.equal(false);
      expect(load(['--log-stdout=no']).log.stdout).to.equal(false);
      expect(load(['--log-stdout'], { MINIFTP_LOG_STDOUT: 'false' }).log.stdout).to.equal(true);
      expect(load([], { MINIFTP_USERS_UMASK: '077' }).users.umask).to.equal(0o077);
      expect(load([], { MINIFTP_LOG_LEVEL: 'DEBUG' }).log.level).to.equal('debug');
      expect(load([], { MINIFTP_DEMO_USER_NAME: '' }).demoUser.name).to.equal('');
    });

    it('refuses port 70000, naming the key and the value', () => {
      const err = loadError(['--port', '70000']);
      expect(err.key).to.equal('port');
      expect(err.value).to.equal(70000);
      expect(err.message).to.equal(
        'invalid config: port must be an integer from 0 to 65535 (got 70000)',
      );
    });

    it('refuses values that are not numbers, or out of range, from any source', () => {
      expect(loadError([], { MINIFTP_LIMITS_MAX_PACKET: '1000' }).message).to.equal(
        'invalid config: limits.maxPacket must be an integer from 34000 to 4194304 (got 1000)',
      );
      expect(loadError(['--max-connections', 'many']).message).to.equal(
        "invalid config: limits.maxConnections must be an integer of at least 1 (got 'many')",
      );
      const file = writeJson('float.json', { argon2: { timeCost: 2.5 } });
      expect(loadError(['--config', file]).key).to.equal('argon2.timeCost');
      expect(loadError([], { MINIFTP_LOG_STDOUT: 'maybe' }).key).to.equal('log.stdout');
      expect(loadError([], { MINIFTP_USERS_UMASK: '888' }).key).to.equal('users.umask');
      expect(loadError([], { MINIFTP_LOG_LEVEL: 'loud' }).key).to.equal('log.level');
    });

    it('refuses a bad size with the parser’s words', () => {
      const err = loadError([], { MINIFTP_USERS_DEFAULT_QUOTA: 'lots' });
      expect(err.key).to.equal('users.defaultQuota');
      expect(err.value).to.equal('lots');
      expect(err.message).to.equal(
        "invalid config: users.defaultQuota: size must look like 500M or 1G, got 'lots'",
      );
    });

    it('does not echo a refused password', () => {
      const err = loadError([], { MINIFTP_ADMIN_PASSWORD: '' });
      expect(err.key).to.equal('admin.password');
      expect(err.message).to.equal('invalid config: admin.password must not be empty');
    });

    it('reports a config file it cannot read, or that is not JSON', () => {
      const missing = path.join(dir, 'missing.json');
      const err = loadError(['--config', missing]);
      expect(err.message).to.equal(`invalid config: cannot read config file ${missing}: ENOENT`);
      expect(err.value).to.equal(missing);

      const broken = path.join(dir, 'broken.json');
      fs.writeFileSync(broken, '{ "port": ');
      const parseErr = loadError(['--config', broken]);
      expect(parseErr.message).to.match(
        /^invalid config: config file .*broken\.json is not valid JSON: /,
      );
      expect(parseErr.message).not.to.include('\n');
    });

    it('refuses unknown keys and misshapen groups in a config file', () => {
      const unknown = writeJson('unknown.json', { limits: { maxPackets: 1 } });
      const err = loadError(['--config', unknown]);
      expect(err.key).to.equal('limits.maxPackets');
      expect(err.message).to.equal(`invalid config: unknown key limits.maxPackets in ${unknown}`);

      const flat = writeJson('flat.json', { limits: 5 });
      expect(loadError(['--config', flat]).message).to.equal(
        'invalid config: limits must be an object of settings (got 5)',
      );
      const umask = writeJson('umask.json', { users: { umask: 22 } });
      expect(loadError(['--config', umask]).key).to.equal('users.umask');
      const list = writeJson('list.json', [1, 2]);
      expect(loadError(['--config', list]).message).to.include('must hold a JSON object');
    });

    it('refuses unknown flags, stray arguments and flags without a value', () => {
      const err = loadError(['--foo']);
      expect(err.key).to.equal('--foo');
      expect(err.message).to.equal('invalid config: unknown option --foo');
      expect(loadError(['--no-port']).message).to.equal('invalid config: unknown option --no-port');
      expect(loadError(['serve']).message).to.equal("invalid config: unexpected argument 'serve'");
      expect(loadError(['--port']).message).to.equal('invalid config: option --port needs a value');
      expect(loadError(['--host', '--port', '1']).message).to.equal(
        'invalid config: option --host needs a value',
      );
    });

    it('lets --help through for the caller to handle', () => {
      expect(wantsHelp(['--port', '1', '--help'])).to.equal(true);
      expect(wantsHelp(['--port', '1'])).to.equal(false);
      expect(load(['--help']).port).to.equal(8808);
    });
  });
});
