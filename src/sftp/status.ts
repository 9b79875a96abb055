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

/*
 * OpenSSH's sftp-server answers every filesystem error with the bare text of
 * its status code, and scripts and libraries match on those words (Node's
 * ssh2-sftp-client passes the text on as err.message, and code built on it
 * tests for "No such file"). So errors that come from the filesystem carry
 * exactly these texts; MiniFTP's own refusals (quota with figures, resume with
 * the MD5s, a limit reached, a full disk) keep words that say more.
 */
export const OPENSSH_TEXT = {
  [Status.NO_SUCH_FILE]: 'No such file',
  [Status.PERMISSION_DENIED]: 'Permission denied',
  [Status.FAILURE]: 'Failure',
  [Status.BAD_MESSAGE]: 'Bad message',
  [Status.OP_UNSUPPORTED]: 'Operation unsupported',
} as const;

const NO_SUCH_FILE: StatusReply = {
  code: Status.NO_SUCH_FILE,
  message: OPENSSH_TEXT[Status.NO_SUCH_FILE],
};
const DENIED: StatusReply = {
  code: Status.PERMISSION_DENIED,
  message: OPENSSH_TEXT[Status.PERMISSION_DENIED],
};
const FAILED: StatusReply = { code: Status.FAILURE, message: OPENSSH_TEXT[Status.FAILURE] };
const DISK_FULL: StatusReply = {
  code: Status.FAILURE,
  message: 'no space left on the server disk',
};
const TOO_MANY_FILES: StatusReply = {
  code: Status.FAILURE,
  message: 'the server has too many open files',
};

const ERRNO: Record<string, StatusReply> = {
  ENOENT: NO_SUCH_FILE,
  ENOTDIR: NO_SUCH_FILE,
  EACCES: DENIED,
  EPERM: DENIED,
  EROFS: DENIED,
  ELOOP: DENIED,
  EEXIST: FAILED,
  ENOTEMPTY: FAILED,
  EISDIR: FAILED,
  EINVAL: FAILED,
  EXDEV: FAILED,
  ENAMETOOLONG: FAILED,
  EBADF: FAILED,
  EMLINK: FAILED,
  EBUSY: FAILED,
  ENOSPC: DISK_FULL,
  EDQUOT: DISK_FULL,
  EMFILE: TOO_MANY_FILES,
  ENFILE: TOO_MANY_FILES,
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
  busy: Status.FAILURE,
  limit: Status.FAILURE,
  failure: Status.FAILURE,
};

export function statusFromError(err: unknown): StatusReply {
  if (err instanceof MiniftpError) return { code: KIND[err.kind], message: err.message };
  if (isErrno(err) && err.code !== undefined) {
    const known = ERRNO[err.code];
    if (known) return known;
    return FAILED;
  }
  return FAILED;
}

/** True for errors worth an error-level log line (not a client's everyday mistake). */
export function isUnexpected(err: unknown): boolean {
  if (err instanceof MiniftpError) return err.kind === 'failure';
  if (isErrno(err) && err.code !== undefined) return ERRNO[err.code] === undefined;
  return true;
}
