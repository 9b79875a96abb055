/** Checks on what an admin types: user names, sizes, counts, and obtaining a new password. */
import { randomBytes } from 'node:crypto';
import { MiniftpError } from '../errors';
import { parseSize, SIZE_FORMAT, SizeError } from '../config/size';
import type { UserRecord, UserStore } from '../store/types';
import type { ParsedArgs } from './args';
import { Cancelled, type ConsoleIo } from './types';

const USER_NAME = /^[a-z_][a-z0-9_.-]{0,31}$/;

/**
 * System and service account names: an SFTP user called "root" or "nobody" confuses whoever reads
 * the logs, and some of these are what scanners try first.
 */
const RESERVED = new Set([
  'root',
  'admin',
  'administrator',
  'daemon',
  'bin',
  'sys',
  'sync',
  'nobody',
  'nogroup',
  'sshd',
  'ftp',
  'sftp',
  'anonymous',
  'guest',
  'operator',
  'mail',
  'postmaster',
  'www-data',
  'miniftp',
]);

/** Throws unless `name` may be given to a new account. */
export function checkNewUserName(name: string, adminName: string): void {
  if (!USER_NAME.test(name)) {
    throw MiniftpError.invalid(
      `user name '${name}' is not allowed: use 1-32 of a-z 0-9 _ . - starting with a letter or _`,
    );
  }
  if (RESERVED.has(name) || name === adminName) {
    throw MiniftpError.invalid(`user name '${name}' is reserved: choose another`);
  }
}

/** The account, or a "no user" error that says how to list them. */
export async function existingUser(users: UserStore, name: string): Promise<UserRecord> {
  const user = await users.get(name);
  if (!user) throw MiniftpError.notFound(`no user '${name}' (see: user list)`);
  return user;
}

/**
 * Bytes from "500M", "1G", "unlimited" (0). A typed 0 is refused: stored, it would
 * mean no limit at all, the opposite of what "quota bob 0" looks like it asks.
 */
export function parseQuota(text: string): number {
  let bytes: number;
  try {
    bytes = parseSize(text);
  } catch (err) {
    const problem = err instanceof SizeError ? err.problem : SIZE_FORMAT;
    const hint = problem === SIZE_FORMAT ? ' (or unlimited)' : '';
    throw MiniftpError.invalid(`quota ${problem}${hint}, got '${text}'`);
  }
  if (bytes === 0 && text.trim().toLowerCase() !== 'unlimited') {
    throw MiniftpError.invalid(
      `a quota of '${text}' would mean no limit: write 'unlimited' for that, or a size such as 500M`,
    );
  }
  return bytes;
}

/** A file count from "1000" or "unlimited" (0); a typed 0 is refused as for sizes. */
export function parseFileCount(text: string): number {
  if (text.toLowerCase() === 'unlimited') return 0;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw MiniftpError.invalid(`--files must be a whole number or unlimited, got '${text}'`);
  }
  if (Number(text) === 0) {
    throw MiniftpError.invalid(
      `--files ${text} would mean no limit: write 'unlimited' for that, or a count such as 1000`,
    );
  }
  return Number(text);
}

/** A random password that survives copy and paste (URL-safe base64, 16 characters). */
export function generatePassword(): string {
  return randomBytes(12).toString('base64url');
}

export interface NewPassword {
  readonly password: string;
  /** Present when the server made the password up: it must be shown once. */
  readonly generated: boolean;
}

/**
 * The password for `user add` / `passwd`: from the next input line with --password-stdin, made up
 * with --generate, else asked twice without echo at a terminal.
 */
export async function obtainPassword(
  io: ConsoleIo,
  args: ParsedArgs,
  who: string,
): Promise<NewPassword> {
  if (args.has('generate') && args.has('password-stdin')) {
    throw MiniftpError.invalid('choose one of --password-stdin and --generate');
  }
  if (args.has('generate')) return { password: generatePassword(), generated: true };
  let password: string;
  if (args.has('password-stdin')) {
    const line = io.terminal
      ? await io.ask(`Password for ${who}: `, { secret: true })
      : await io.readLine();
    if (line === undefined) {
      throw MiniftpError.invalid('--password-stdin: no password on standard input');
    }
    password = line;
  } else {
    if (!io.terminal) {
      throw MiniftpError.invalid(
        'no terminal to ask for the password: use --password-stdin (password on stdin) or --generate',
      );
    }
    password = await io.ask(`New password for ${who}: `, { secret: true });
    const again = await io.ask('Retype the password: ', { secret: true });
    if (again !== password) throw MiniftpError.invalid('the passwords do not match: try again');
  }
  if (password === '') throw MiniftpError.invalid('the password is empty');
  return { password, generated: false };
}

/** True for y/yes; Ctrl-C counts as no. */
export async function confirm(io: ConsoleIo, question: string): Promise<boolean> {
  try {
    const answer = await io.ask(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } catch (err) {
    if (err instanceof Cancelled) return false;
    throw err;
  }
}
