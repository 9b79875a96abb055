/**
 * The one place where errors become SFTP status codes and messages. Messages
 * are plain English and never include a real path.
 */
import { MiniftpError, isErrno } from '../errors';
import { Status, type StatusCode } from './constants';

export interface StatusReply {
  code: StatusCode;
  message: string;
}

const ERRNO: Record<string, StatusReply> = {
  ENOENT: { code: Status.NO_SUCH_FILE, message: 'no such file or directory' },
  ENOTDIR: { code: Status.NO_SUCH_FILE, message: 'not a directory' },
  EACCES: { code: Status.PERMISSION_DENIED, message: 'permission denied' },
  EPERM: { code: Status.PERMISSION_DENIED, message: 'operation not permitted' },
  EROFS: { code: Status.PERMISSION_DENIED, message: 'read-only file system' },
  ELOOP: { code: Status.PERMISSION_DENIED, message: 'too many levels of symbolic links' },
  EEXIST: { code: Status.FAILURE, message: 'file already exists' },
  ENOTEMPTY: { code: Status.FAILURE, message: 'directory not empty' },
  EISDIR: { code: Status.FAILURE, message: 'is a directory' },
  EINVAL: { code: Status.FAILURE, message: 'invalid argument' },
  EXDEV: { code: Status.FAILURE, message: 'cannot move across file systems' },
  ENOSPC: { code: Status.FAILURE, message: 'no space left on the server disk' },
  EDQUOT: { code: Status.FAILURE, message: 'no space left on the server disk' },
  ENAMETOOLONG: { code: Status.FAILURE, message: 'file name too long' },
  EMFILE: { code: Status.FAILURE, message: 'the server has too many open files' },
  ENFILE: { code: Status.FAILURE, message: 'the server has too many open files' },
  EBADF: { code: Status.FAILURE, message: 'bad file handle' },
  EMLINK: { code: Status.FAILURE, message: 'too many links' },
  EBUSY: { code: Status.FAILURE, message: 'resource busy' },
};

const KIND: Record<MiniftpError['kind'], StatusCode> = {
  'not-found': Status.NO_SUCH_FILE,
  permission: Status.PERMISSION_DENIED,
  exists: Status.FAILURE,
  quota: Status.FAILURE,
  'no-space': Status.FAILURE,
  'bad-message': Status.BAD_MESSAGE,
  unsupported: Status.OP_UNSUPPORTED,
  invalid: Status.FAILURE,
  'resume-mismatch': Status.FAILURE,
  limit: Status.FAILURE,
  failure: Status.FAILURE,
};

export function statusFromError(err: unknown): StatusReply {
  if (err instanceof MiniftpError) return { code: KIND[err.kind], message: err.message };
  if (isErrno(err) && err.code !== undefined) {
    const known = ERRNO[err.code];
    if (known) return known;
    return { code: Status.FAILURE, message: `server error (${err.code})` };
  }
  return { code: Status.FAILURE, message: 'internal server error' };
}

/** True for errors worth an error-level log line (not a client's everyday mistake). */
export function isUnexpected(err: unknown): boolean {
  if (err instanceof MiniftpError) return err.kind === 'failure';
  if (isErrno(err) && err.code !== undefined) return ERRNO[err.code] === undefined;
  return true;
}
