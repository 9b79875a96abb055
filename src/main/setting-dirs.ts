/** Start-up steps in the directories settings name, and what their failures say. */
import { MiniftpError, describeError, isErrno } from '../errors';
import type { SystemUser } from './privileges';

/** Why a directory cannot be used, for the operator starting the server. */
function dirProblem(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EEXIST':
      return 'a file of that name is in the way';
    case 'ENOTDIR':
      return 'part of the path is a file, not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'ENOENT':
      return 'a directory cannot be created there';
    default:
      return describeError(err);
  }
}

/**
 * Runs a start-up step that works in the directory a setting names; a failure
 * names the setting and its value: "cannot use dataDir '/srv/x': permission denied".
 */
export async function inSetting<T>(
  setting: string,
  dir: string,
  step: () => Promise<T>,
  runAs?: SystemUser,
): Promise<T> {
  try {
    return await step();
  } catch (err) {
    const why = isErrno(err)
      ? dirProblem(err) +
        (runAs && (err.code === 'EACCES' || err.code === 'EPERM') ? ` for user ${runAs.name}` : '')
      : err instanceof MiniftpError && err.kind === 'failure'
        ? err.message
        : undefined;
    if (why === undefined) throw err;
    throw MiniftpError.invalid(`cannot use ${setting} '${dir}': ${why}`);
  }
}
