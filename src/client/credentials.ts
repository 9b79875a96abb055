/**
 * What the client logs in with, asked on the terminal when it must be: the
 * known-hosts decision for a server's key, the -i key and its passphrase,
 * the password, keyboard-interactive answers, and the -J jump host's login.
 */
import { promises as fsp } from 'node:fs';
import type { ReadStream } from 'node:tty';
import { utils as sshUtils } from 'ssh2';
import type { CliArgs } from './cli-args';
import type { ConnectOptions, HostKeyInfo } from './connect';
import { ClientError } from './errors';
import { KnownHosts, hostEntryName } from './known-hosts';
import { askLine, askYesNo, type PromptIo } from './prompt';

export interface Terminal {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

export function promptIo(t: Terminal): PromptIo | undefined {
  return t.stdin.isTTY ? { input: t.stdin as ReadStream, output: t.stderr } : undefined;
}

/**
 * OpenSSH's short key names ("ED25519", "RSA", "ECDSA"): with the type as sent
 * ("ssh-ed25519") the fingerprint line is 82 columns and wraps on an 80-column
 * terminal.
 */
export function keyLabel(type: string): string {
  if (type === 'ssh-ed25519') return 'ED25519';
  if (type === 'ssh-rsa' || type.startsWith('rsa-sha2-')) return 'RSA';
  if (type.startsWith('ecdsa-')) return 'ECDSA';
  return type;
}

/** The known-hosts decision, with OpenSSH's wording where it has one. */
export function hostKeyChecker(
  args: CliArgs,
  t: Terminal,
  interactive = true,
): (info: HostKeyInfo, signal: AbortSignal) => Promise<boolean> {
  const known = new KnownHosts(args.knownHosts);
  const name = hostEntryName(args.host, args.port);
  return async (info, signal) => {
    const status = await known.check(name, info);
    if (status.kind === 'known') return true;
    if (status.kind === 'changed') {
      t.stderr.write(
        `WARNING: THE HOST KEY OF ${name} HAS CHANGED!\n` +
          `Someone could be impersonating the server, or its key was replaced.\n` +
          `The ${keyLabel(info.type)} key it sent has fingerprint ${info.fingerprint}.\n` +
          `If you know the change is legitimate, delete line ${status.line} of ${known.file} ` +
          `and connect again.\n`,
      );
      return false;
    }
    const io = interactive ? promptIo(t) : undefined;
    if (!args.acceptNewHostKey) {
      if (!io) {
        t.stderr.write(
          `The host key of ${name} is not known (${keyLabel(info.type)} ${info.fingerprint}).\n` +
            `Connect once interactively, or pass --accept-new-host-key.\n`,
        );
        return false;
      }
      const ok = await askYesNo(
        io,
        `The authenticity of host ${name} can't be established.\n` +
          `${keyLabel(info.type)} key fingerprint is ${info.fingerprint}.\n` +
          `Are you sure you want to trust it and continue connecting (yes/no)? `,
        signal,
      );
      if (!ok) return false;
    }
    await known.add(name, info);
    t.stderr.write(`Added ${name} (${keyLabel(info.type)}) to ${known.file}.\n`);
    return true;
  };
}

/** Reads the -i key, asking for its passphrase when it is encrypted. */
async function loadKey(
  file: string,
  t: Terminal,
): Promise<{ privateKey: Buffer; passphrase?: string }> {
  const privateKey = await fsp.readFile(file);
  const parsed = sshUtils.parseKey(privateKey);
  if (!(parsed instanceof Error)) return { privateKey };
  if (!/passphrase|encrypted/i.test(parsed.message)) {
    throw new ClientError(`cannot read the key ${file}: ${parsed.message}`);
  }
  const io = promptIo(t);
  if (!io) throw new ClientError(`the key ${file} is encrypted and there is no terminal to ask`);
  const passphrase = await askLine(io, `Passphrase for ${file}: `, true);
  return { privateKey, passphrase };
}

/**
 * What to log in with: the -i key, then a password from MINIFTP_PASSWORD or
 * asked for on the terminal. The question itself is put by connect() once the
 * host key has been accepted, and again after a wrong password (OpenSSH's
 * wording).
 */
export async function credentials(
  args: CliArgs,
  env: NodeJS.ProcessEnv,
  t: Terminal,
): Promise<
  Pick<ConnectOptions, 'password' | 'askPassword' | 'answerPrompts' | 'privateKey' | 'passphrase'>
> {
  const key = args.identity ? await loadKey(args.identity, t) : {};
  if (env.MINIFTP_PASSWORD !== undefined) return { ...key, password: env.MINIFTP_PASSWORD };
  const io = promptIo(t);
  if (!io) {
    if (args.identity) return key;
    throw new ClientError('no password: set MINIFTP_PASSWORD or log in with -i KEYFILE');
  }
  return {
    ...key,
    // Keyboard-interactive (a second factor): each question as the server sends it.
    answerPrompts: async ({ name, instructions, prompts }, signal) => {
      for (const line of [name, instructions]) if (line.trim()) t.stderr.write(`${line.trim()}\n`);
      const answers: string[] = [];
      for (const p of prompts) answers.push(await askLine(io, p.prompt, !p.echo, signal));
      return answers;
    },
    askPassword: (attempt, signal) => {
      if (attempt > 1) t.stderr.write('Permission denied, please try again.\n');
      return askLine(io, `${args.user}@${args.host}'s password: `, true, signal);
    },
  };
}

/**
 * The jump host's login: the same key as the target's, and its own password
 * (MINIFTP_JUMP_PASSWORD, or asked for once its host key is trusted, then
 * kept in memory for reconnections). Its host key is checked under its own name.
 */
export async function jumpOptions(
  args: CliArgs,
  jump: NonNullable<CliArgs['jump']>,
  creds: Pick<ConnectOptions, 'privateKey' | 'passphrase'>,
  env: NodeJS.ProcessEnv,
  t: Terminal,
): Promise<ConnectOptions> {
  const io = promptIo(t);
  let typed: string | undefined;
  const o: ConnectOptions = {
    host: jump.host,
    port: jump.port,
    username: jump.user,
    privateKey: creds.privateKey,
    passphrase: creds.passphrase,
    password: env.MINIFTP_JUMP_PASSWORD,
    askPassword:
      env.MINIFTP_JUMP_PASSWORD === undefined && io
        ? async (attempt, signal) => {
            if (typed !== undefined && attempt === 1) return typed;
            if (attempt > 1) t.stderr.write('Permission denied, please try again.\n');
            typed = await askLine(io, `${jump.user}@${jump.host}'s password: `, true, signal);
            return typed;
          }
        : undefined,
    hostKeyCheck: hostKeyChecker({ ...args, host: jump.host, port: jump.port }, t),
  };
  return o;
}
