/** What the group, folder and permission commands share: names, modes, paths and the directory. */
import { MiniftpError } from '../errors';
import type { AccessDirectory } from '../access/directory';
import type { AccessStore } from '../store/access-types';
import { ACCESS_MODES, isAccessMode, type AccessMode } from '../vfs/permissions';
import { normalizeVirtual } from '../vfs/virtual-path';
import type { AdminServices, ConsoleIo } from './types';
import { confirm } from './validate';

const NAME = /^[a-z_][a-z0-9_.-]{0,31}$/;

/** The directory and its store, or the error that says the server keeps no folders. */
export function accessOf(s: AdminServices): { dir: AccessDirectory; store: AccessStore } {
  const dir = s.access;
  const store = s.store.access;
  if (!dir || !store) {
    throw MiniftpError.unsupported(
      'this server keeps no groups or shared folders (its store has no tables for them)',
    );
  }
  return { dir, store };
}

/** Group and folder names follow the rules of user names. */
export function checkName(kind: 'group' | 'folder', name: string): void {
  if (!NAME.test(name)) {
    throw MiniftpError.invalid(
      `${kind} name '${name}' is not allowed: use 1-32 of a-z 0-9 _ . - starting with a letter or _`,
    );
  }
}

export function parseMode(text: string): AccessMode {
  if (!isAccessMode(text)) {
    throw MiniftpError.invalid(`mode '${text}' is not one of ${ACCESS_MODES.join(', ')}`);
  }
  return text;
}

/** A path of a user's view, normalised; "/" is refused where a folder or permission cannot go. */
export function parseViewPath(text: string, what: string): string {
  if (!text.startsWith('/')) throw MiniftpError.invalid(`${what} must start with /, got '${text}'`);
  return normalizeVirtual(text);
}

/** Asks at a terminal; without one, `--yes` is required. False: the admin said no. */
export async function confirmed(
  io: ConsoleIo,
  yes: boolean,
  command: string,
  question: string,
): Promise<boolean> {
  if (yes) return true;
  if (!io.terminal) {
    throw MiniftpError.invalid(`${command} needs --yes without a terminal to confirm on`);
  }
  return confirm(io, question);
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
