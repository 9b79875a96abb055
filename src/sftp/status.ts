/**
 * The one place where errors become SFTP status codes. The message is
 * `userMessage` (src/errors.ts): plain English, OpenSSH's bare words for
 * filesystem errors, never a real path.
 */
import { MiniftpError, errnoKind, isErrno, userMessage } from '../errors';
import { Status, type StatusCode } from './constants';

export interface StatusReply {
  code: StatusCode;
  message: string;
}

const KIND: Record<MiniftpError['kind'], StatusCode> = {
  'not-found': Status.NO_SUCH_FILE,
  permission: Status.PERMISSION_DENIED,
  'access-denied': Status.PERMISSION_DENIED,
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
  const kind = err instanceof MiniftpError ? err.kind : (errnoKind(err) ?? 'failure');
  return { code: KIND[kind], message: userMessage(err) };
}

/** True for errors worth an error-level log line (not a client's everyday mistake). */
export function isUnexpected(err: unknown): boolean {
  if (err instanceof MiniftpError) return err.kind === 'failure';
  if (isErrno(err)) return errnoKind(err) === undefined;
  return true;
}
