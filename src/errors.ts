/**
 * The one error hierarchy of MiniFTP. Every layer throws these (or lets Node's
 * own `ErrnoException`s through); `src/sftp/status.ts` is the single place that
 * maps them onto SFTP status codes, and the admin console and the client print
 * `message`, which never contains a real server path.
 */
export type ErrorKind =
  | 'not-found'
  | 'permission'
  | 'access-denied'
  | 'exists'
  | 'quota'
  | 'no-space'
  | 'bad-message'
  | 'unsupported'
  | 'invalid'
  | 'resume-mismatch'
  | 'busy'
  | 'limit'
  | 'failure';

export class MiniftpError extends Error {
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = 'MiniftpError';
  }

  static notFound(what = 'No such file'): MiniftpError {
    return new MiniftpError('not-found', what);
  }

  static permission(what = 'Permission denied'): MiniftpError {
    return new MiniftpError('permission', what);
  }

  /**
   * Refused by a shared folder's mode or a per-path permission: `message`
   * says which path and what the user may do there, e.g.
   * "Permission denied: /handouts is read-only for you".
   */
  static accessDenied(message: string): MiniftpError {
    return new MiniftpError('access-denied', message);
  }

  static exists(what = 'Failure'): MiniftpError {
    return new MiniftpError('exists', what);
  }

  static quota(message: string): MiniftpError {
    return new MiniftpError('quota', message);
  }

  static noSpace(): MiniftpError {
    return new MiniftpError('no-space', 'no space left on the server disk');
  }

  static badMessage(what: string): MiniftpError {
    return new MiniftpError('bad-message', what);
  }

  static unsupported(what: string): MiniftpError {
    return new MiniftpError('unsupported', what);
  }

  static invalid(what: string): MiniftpError {
    return new MiniftpError('invalid', what);
  }

  /**
   * A resume refused because the bytes on the server are not the client's
   * (fewer of them, or a different MD5): `reason` follows "resume refused: ".
   */
  static resumeRefused(reason: string): MiniftpError {
    return new MiniftpError('resume-mismatch', `resume refused: ${reason}`);
  }

  /** The file is in use elsewhere (another handle still writes it); trying later may succeed. */
  static busy(what: string): MiniftpError {
    return new MiniftpError('busy', what);
  }

  static limit(what: string): MiniftpError {
    return new MiniftpError('limit', what);
  }

  static failure(what: string, cause?: unknown): MiniftpError {
    return new MiniftpError('failure', what, { cause });
  }
}

/** A Node.js system error (ENOENT, EACCES…) as thrown by `fs`. */
export function isErrno(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
}

/*
 * What a Node system error means to the user: the kind it counts as and the
 * words they are told. OpenSSH's sftp-server answers every filesystem error
 * with the bare text of its status code, and scripts and libraries match on
 * those words ("No such file"), so errors from the filesystem carry exactly
 * these; a full disk and too many open files say more.
 */
const NO_SUCH_FILE = { kind: 'not-found', text: 'No such file' } as const;
const DENIED = { kind: 'permission', text: 'Permission denied' } as const;
const FAILED = { kind: 'failure', text: 'Failure' } as const;
const DISK_FULL = { kind: 'no-space', text: 'no space left on the server disk' } as const;
const TOO_MANY_FILES = { kind: 'limit', text: 'the server has too many open files' } as const;
const ERRNO: Readonly<Record<string, { kind: ErrorKind; text: string }>> = {
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

/** The kind of a system error MiniFTP knows (undefined for one it does not: unexpected). */
export function errnoKind(err: unknown): ErrorKind | undefined {
  return isErrno(err) && err.code !== undefined ? ERRNO[err.code]?.kind : undefined;
}

/**
 * What the user is told of an error (an SFTP status message, a hash command's
 * stderr): a MiniftpError's own message, OpenSSH's words for a system error,
 * "Failure" for anything else. Never a real path.
 */
export function userMessage(err: unknown): string {
  if (err instanceof MiniftpError) return err.message;
  if (isErrno(err) && err.code !== undefined) return (ERRNO[err.code] ?? FAILED).text;
  return FAILED.text;
}

/** A short text for logs and the console that keeps a Node error's code but not its path. */
export function describeError(err: unknown): string {
  if (err instanceof MiniftpError) return err.message;
  if (isErrno(err)) return `${err.code ?? 'error'}${err.syscall ? ` in ${err.syscall}` : ''}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
