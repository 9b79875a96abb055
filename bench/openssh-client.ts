/**
 * The stock OpenSSH `sftp` and `ssh` clients, run the same way against both
 * servers: no config file, no known_hosts, default algorithm negotiation, and
 * either one key or a password given through SSH_ASKPASS.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ChildRegistry, CommandResult } from './proc';
import { commonOptions, type Credentials } from '../test/helpers/openssh-options';

export type { Credentials };

export interface Negotiated {
  kex: string;
  cipher: string;
  mac: string;
}

/** No single client run of the bench should take this long, even for --size 4G on a busy machine. */
const CLIENT_TIMEOUT_MS = 15 * 60 * 1000;

export class OpenSshClient {
  private askpassFiles = new Map<string, string>();

  constructor(
    private readonly children: ChildRegistry,
    /** A private directory for askpass scripts. */
    private readonly scratch: string,
    /** Passed as `-c` to every run; undefined leaves the choice to negotiation. */
    private readonly cipher?: string,
  ) {}

  /** `sftp -b -` with one command a line; sftp stops at the first failing command. */
  sftp(
    port: number,
    creds: Credentials,
    commands: string[],
    options: { verbose?: boolean } = {},
  ): Promise<CommandResult> {
    return this.children.run('sftp', this.sftpArgs(port, creds, options.verbose === true), {
      env: this.env(creds),
      input: `${commands.join('\n')}\n`,
      timeoutMs: CLIENT_TIMEOUT_MS,
    });
  }

  /** Like `sftp`, but returns the running process (the resume check kills it midway). */
  spawnSftp(port: number, creds: Credentials, commands: string[]): ChildProcess {
    const child = this.children.spawn('sftp', this.sftpArgs(port, creds, false), {
      env: this.env(creds),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(`${commands.join('\n')}\n`);
    return child;
  }

  /**
   * A session that stays open: `sftp -b -` runs `commands`, then waits for
   * more on its stdin until `stdin.end()` (which ends it).
   */
  openSession(port: number, creds: Credentials, commands: string[]): ChildProcess {
    const child = this.children.spawn('sftp', this.sftpArgs(port, creds, false), {
      env: this.env(creds),
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.write(`${commands.join('\n')}\n`);
    return child;
  }

  /** `ssh -T user@127.0.0.1 COMMAND` (the server parses COMMAND; no shell here). */
  ssh(port: number, creds: Credentials, command: string): Promise<CommandResult> {
    const args = [...this.common(port, creds, '-p'), '-T', `${creds.user}@127.0.0.1`, command];
    return this.children.run('ssh', args, { env: this.env(creds), timeoutMs: CLIENT_TIMEOUT_MS });
  }

  /** Key exchange, cipher and MAC that one `sftp -v` session negotiated (client→server). */
  async negotiated(port: number, creds: Credentials): Promise<Negotiated> {
    const r = await this.sftp(port, creds, ['ls'], { verbose: true });
    if (r.code !== 0) throw new Error(`sftp ls failed (exit ${r.code}): ${lastLines(r.stderr)}`);
    const kex = /kex: algorithm: (\S+)/.exec(r.stderr)?.[1] ?? 'unknown';
    const m = /kex: client->server cipher: (\S+) MAC: (\S+)/.exec(r.stderr);
    return { kex, cipher: m?.[1] ?? 'unknown', mac: m?.[2] ?? 'unknown' };
  }

  private sftpArgs(port: number, creds: Credentials, verbose: boolean): string[] {
    return [
      ...this.common(port, creds, '-P'),
      ...(verbose ? ['-v'] : []),
      '-b',
      '-',
      `${creds.user}@127.0.0.1`,
    ];
  }

  private common(port: number, creds: Credentials, portFlag: '-p' | '-P'): string[] {
    return [...commonOptions(port, creds, portFlag), ...(this.cipher ? ['-c', this.cipher] : [])];
  }

  private env(creds: Credentials): NodeJS.ProcessEnv {
    const e: NodeJS.ProcessEnv = { ...process.env };
    if (creds.password !== undefined) {
      e.SSH_ASKPASS = this.askpass(creds.password);
      e.SSH_ASKPASS_REQUIRE = 'force';
      e.DISPLAY = e.DISPLAY ?? ':0';
    }
    return e;
  }

  private askpass(password: string): string {
    let file = this.askpassFiles.get(password);
    if (!file) {
      file = path.join(this.scratch, `askpass-${this.askpassFiles.size}.sh`);
      // printf %s keeps every character of the password literal.
      writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' '${password.replace(/'/g, `'\\''`)}'\n`, {
        mode: 0o700,
      });
      this.askpassFiles.set(password, file);
    }
    return file;
  }
}

/** The last few lines of a client's stderr, for error messages. */
export function lastLines(text: string, count = 3): string {
  return text.trim().split('\n').slice(-count).join(' | ');
}
