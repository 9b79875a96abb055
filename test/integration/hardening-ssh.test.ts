/**
 * The SSH front door under attack: brute-force logins get an address banned
 * for a while (other addresses unaffected), unknown users and wrong passwords
 * look alike, strict KEX is negotiated (Terrapin), weak algorithms are
 * refused, and host keys others could read stop the server from starting.
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { Client } from 'ssh2';
import { loadHostKeys } from '../../src/ssh/host-keys';
import type { Logger } from '../../src/log/types';
import { haveOpenSsh } from '../helpers/openssh';
import { closeProbe, logLines, probe, waitForLog, waitUntil } from '../helpers/probe';
import { startTestServer, type TestServer } from '../helpers/server';
import { connectClient, endClient, openSftp, loginError } from '../helpers/ssh-client';

interface SshRun {
  code: number | null;
  stderr: string;
}

/** `ssh -vvv` in batch mode (no password: the algorithms are settled before authentication). */
function sshVerbose(port: number, options: string[], bindAddress?: string): Promise<SshRun> {
  return new Promise((resolve) => {
    const child = spawn(
      'ssh',
      [
        '-vvv',
        '-F',
        '/dev/null',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'BatchMode=yes',
        '-o',
        'ConnectTimeout=20',
        ...options.flatMap((o) => ['-o', o]),
        ...(bindAddress ? ['-b', bindAddress] : []),
        '-p',
        String(port),
        'zhangsan@127.0.0.1',
        'true',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

const quietLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => quietLogger,
  close: async () => undefined,
};

describe('hardening: SSH', function () {
  describe('failed-login bans (--ban-threshold 3 --ban-window 60 --ban-time 2)', function () {
    let server: TestServer;
    before(async function () {
      server = await startTestServer({
        flags: ['--ban-threshold', '3', '--ban-window', '60', '--ban-time', '2'],
      });
    });
    after(async function () {
      await server?.stop();
    });

    it('bans an address after 3 failures, spares other addresses, and lifts the ban', async function () {
      // Unknown users and wrong passwords fail alike and both count.
      const errors = [
        await loginError(server.port, 'zhangsan', 'wrong'),
        await loginError(server.port, 'no-such-user', 'wrong'),
        await loginError(server.port, 'zhangsan', 'also wrong'),
      ];
      expect(errors.map((e) => e?.message)).to.deep.equal(
        Array(3).fill('All configured authentication methods failed'),
      );
      await waitForLog(server.dataDir, 'ip.banned', { ip: '127.0.0.1' });

      // Banned: dropped at accept, before any key exchange, even with the right password.
      const banned = await probe(server.port);
      expect(banned.result).to.equal('dropped');
      expect(await loginError(server.port, 'zhangsan', '123')).to.be.instanceOf(Error);
      await waitForLog(server.dataDir, 'connection.refused', {
        ip: '127.0.0.1',
        reason: 'address is banned after failed logins',
      });

      // Another address is not affected.
      const other = await connectClient(server.port, {
        user: 'zhangsan',
        password: '123',
        localAddress: '127.0.0.2',
      });
      const sftp = await openSftp(other);
      sftp.end();
      await endClient(other);

      // The ban ends by itself.
      await waitUntil('the ban to expire', async () => {
        const p = await probe(server.port);
        await closeProbe(p);
        return p.result === 'accepted';
      });
      expect(await loginError(server.port, 'zhangsan', '123')).to.equal(undefined);
      const failed = (await logLines(server.dataDir)).filter((l) => l.event === 'login.failed');
      expect(failed.map((l) => l.reason)).to.deep.equal([
        'wrong password',
        'unknown or disabled user',
        'wrong password',
      ]);
      // The log says why, never with the password tried.
      expect(JSON.stringify(failed)).to.not.include('also wrong');
    });
  });

  describe('algorithms', function () {
    let server: TestServer;
    let openssh = false;
    before(async function () {
      server = await startTestServer();
      openssh = await haveOpenSsh();
    });
    after(async function () {
      await server?.stop();
    });

    it('negotiates strict KEX with ssh2 (Terrapin countermeasure)', async function () {
      const lines: string[] = [];
      const client = new Client();
      await new Promise<void>((resolve, reject) => {
        client.once('ready', () => resolve()).once('error', reject);
        client.connect({
          host: '127.0.0.1',
          port: server.port,
          username: 'zhangsan',
          password: '123',
          debug: (line) => lines.push(line),
        });
      });
      await endClient(client);
      expect(lines.some((l) => l.includes('strict KEX mode enabled'))).to.equal(true);
    });

    it('compresses only after login (zlib@openssh.com), never with plain zlib', async function () {
      const tryCompression = (compress: 'zlib' | 'zlib@openssh.com'): Promise<string> =>
        new Promise((resolve) => {
          const client = new Client();
          client.once('error', (err) => resolve(err.message));
          client.once('ready', () => {
            client.sftp((err, sftp) => {
              if (err) {
                resolve(err.message);
                client.end();
                return;
              }
              sftp.realpath('.', (e, p) => {
                resolve(e ? e.message : `ok ${p}`);
                client.end();
              });
            });
          });
          client.connect({
            host: '127.0.0.1',
            port: server.port,
            username: 'zhangsan',
            password: '123',
            algorithms: { compress: [compress] },
          });
        });
      expect(await tryCompression('zlib')).to.match(/no matching C->S compression/);
      expect(await tryCompression('zlib@openssh.com')).to.equal('ok /');
    });

    it('offers strict KEX to OpenSSH and uses it', async function () {
      if (!openssh) this.skip();
      const run = await sshVerbose(server.port, []);
      const serverKex = run.stderr
        .split('peer server KEXINIT proposal')[1]
        ?.match(/KEX algorithms: (.*)/)?.[1];
      expect(serverKex?.split(',')).to.include('kex-strict-s-v00@openssh.com');
      // OpenSSH 9.2p1 as patched by Debian (and 9.6 on) says so at -vvv.
      if (run.stderr.includes('kex-strict-c-v00@openssh.com')) {
        expect(run.stderr).to.include('will use strict KEX ordering');
      }
    });

    it('refuses CBC ciphers, hmac-sha1, SHA-1 key exchanges and ssh-rsa host keys', async function () {
      if (!openssh) this.skip();
      const cases: Array<[string[], RegExp]> = [
        [['Ciphers=aes128-cbc'], /no matching cipher found/],
        [['Ciphers=aes256-cbc,3des-cbc'], /no matching cipher found/],
        [['Ciphers=aes128-ctr', 'MACs=hmac-sha1'], /no matching MAC found/],
        [['KexAlgorithms=diffie-hellman-group1-sha1'], /no matching key exchange method found/],
        [['KexAlgorithms=diffie-hellman-group14-sha1'], /no matching key exchange method found/],
        [
          ['KexAlgorithms=diffie-hellman-group-exchange-sha1'],
          /no matching key exchange method found/,
        ],
      ];
      // The first case fails the AES-GCM-only offer OpenSSH gets, so from then
      // on this client is offered every cipher, and the MAC case gets as far as MACs.
      for (const [options, expected] of cases) {
        const run = await sshVerbose(server.port, options);
        expect(run.code, options.join(' ')).to.equal(255);
        expect(run.stderr, options.join(' ')).to.match(expected);
      }
      // ssh2 lists ssh-rsa for an RSA host key whatever it is told; the server
      // closes a connection that picks it before authentication starts.
      const rsa = await sshVerbose(server.port, ['HostKeyAlgorithms=ssh-rsa']);
      expect(rsa.code).to.equal(255);
      expect(rsa.stderr).to.not.match(/Authentications that can continue|Permission denied/);
      await waitForLog(server.dataDir, 'connection.refused', {
        reason: 'client accepts only ssh-rsa host keys',
      });
      // RSA keys with SHA-2 signatures are fine.
      const sha2 = await sshVerbose(server.port, ['HostKeyAlgorithms=rsa-sha2-512']);
      expect(sha2.stderr).to.include('kex: host key algorithm: rsa-sha2-512');
      expect(sha2.stderr).to.include('Authentications that can continue');
    });
  });

  describe('cipher offer', function () {
    let openssh = false;
    let server: TestServer | undefined;
    before(async function () {
      openssh = await haveOpenSsh();
    });
    afterEach(async function () {
      await server?.stop();
      server = undefined;
    });

    const cipherOf = (run: SshRun): string | undefined =>
      /kex: client->server cipher: (\S+)/.exec(run.stderr)?.[1];
    const offeredCiphers = (run: SshRun): string[] | undefined =>
      run.stderr
        .split('peer server KEXINIT proposal')[1]
        ?.match(/ciphers ctos: (.*)/)?.[1]
        ?.split(',');

    it('offers OpenSSH clients AES-GCM only, so their default order lands on it', async function () {
      if (!openssh) this.skip();
      server = await startTestServer();
      const run = await sshVerbose(server.port, []);
      expect(offeredCiphers(run)).to.deep.equal([
        'aes128-gcm@openssh.com',
        'aes256-gcm@openssh.com',
      ]);
      expect(cipherOf(run)).to.equal('aes128-gcm@openssh.com');
    });

    it('offers other clients every cipher (libssh2 and paramiko 2.x have no AES-GCM)', async function () {
      server = await startTestServer();
      for (const cipher of ['aes128-ctr', 'aes256-ctr', 'chacha20-poly1305@openssh.com'] as const) {
        const client = new Client();
        const negotiated = await new Promise<string>((resolve, reject) => {
          client.once('handshake', (n) => resolve(n.cs.cipher)).once('error', reject);
          client.connect({
            host: '127.0.0.1',
            port: server?.port,
            username: 'zhangsan',
            password: '123',
            algorithms: { cipher: [cipher] },
          });
        });
        client.end();
        expect(negotiated).to.equal(cipher);
      }
    });

    it('gives an OpenSSH client without AES-GCM every cipher from its second connection', async function () {
      if (!openssh) this.skip();
      server = await startTestServer();
      const first = await sshVerbose(server.port, ['Ciphers=aes256-ctr']);
      expect(first.code).to.equal(255);
      expect(first.stderr).to.match(/no matching cipher found/);
      await waitForLog(server.dataDir, 'connection.offer', { ip: '127.0.0.1' });
      const second = await sshVerbose(server.port, ['Ciphers=aes256-ctr']);
      expect(cipherOf(second)).to.equal('aes256-ctr');
      expect(second.stderr).to.include('Authentications that can continue');
      // Others keep the narrowed offer.
      const other = await sshVerbose(server.port, ['Ciphers=aes256-ctr'], '127.0.0.2');
      expect(other.stderr).to.match(/no matching cipher found/);
    });

    it('with --gcm-for-openssh false, OpenSSH gets the full list and picks by its own order', async function () {
      if (!openssh) this.skip();
      server = await startTestServer({ flags: ['--gcm-for-openssh', 'false'] });
      const run = await sshVerbose(server.port, []);
      expect(offeredCiphers(run)).to.include.members(['aes128-ctr', 'aes128-gcm@openssh.com']);
      expect(cipherOf(run)).to.equal('chacha20-poly1305@openssh.com');
    });
  });

  describe('host keys', function () {
    let dir: string;
    beforeEach(async function () {
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'miniftp-hostkeys-'));
    });
    afterEach(async function () {
      await fsp.rm(dir, { recursive: true, force: true });
    });

    it('generates ed25519 and RSA keys with mode 0600', async function () {
      const keys = await loadHostKeys({ dir, logger: quietLogger });
      expect(keys.map((k) => k.type)).to.deep.equal(['ssh-ed25519', 'ssh-rsa']);
      for (const k of keys) expect((await fsp.stat(k.file)).mode & 0o777).to.equal(0o600);
    });

    for (const mode of [0o640, 0o604, 0o644]) {
      it(`refuses to start with a host key of mode ${mode.toString(8)}`, async function () {
        const keys = await loadHostKeys({ dir, logger: quietLogger });
        await fsp.chmod((keys[0] as { file: string }).file, mode);
        let caught: unknown;
        await loadHostKeys({ dir, logger: quietLogger }).catch((err: unknown) => (caught = err));
        expect(caught).to.be.instanceOf(Error);
        expect((caught as Error).message).to.match(
          new RegExp(`readable by other users \\(mode ${mode.toString(8)}\\): run chmod 600`),
        );
      });
    }
  });
});
