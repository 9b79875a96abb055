/**
 * The client's errors. Every failure the UI may react to has its own class;
 * `errorFromStatus` is the one place that turns a STATUS reply into one of them.
 */
import { Status } from '../sftp/constants';

export class ClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A STATUS reply other than OK; `serverMessage` is the server's text as sent. */
export class SftpStatusError extends ClientError {
  constructor(
    readonly code: number,
    readonly serverMessage: string,
  ) {
    super(serverMessage === '' ? `request failed with status ${code}` : serverMessage);
  }
}

export class NotFoundError extends SftpStatusError {}
export class PermissionError extends SftpStatusError {}
export class UnsupportedError extends SftpStatusError {}

/** FAILURE "quota exceeded (used X of Y)": bytes already written stay on the server. */
export class QuotaError extends SftpStatusError {}

/**
 * A resume was refused because the bytes already at the destination are not
 * the start of the source. For uploads the message is the server's own
 * ("resume refused: …"); for downloads it is built here from both digests.
 */
export class ResumeMismatchError extends ClientError {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** The channel or the connection closed while requests were outstanding. */
export class ConnectionLostError extends ClientError {
  constructor(message = 'the connection to the server was lost', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The server sent something that is not valid SFTP. */
export class ProtocolError extends ClientError {}

/** The whole-file MD5 after a transfer differs between the two sides. */
export class VerifyError extends ClientError {
  constructor(
    readonly localMd5: string,
    readonly remoteMd5: string,
  ) {
    super(`the transferred file differs: local MD5 ${localMd5}, server MD5 ${remoteMd5}`);
  }
}

/**
 * The destination holds other content and the caller asked not to overwrite
 * it; `shorter` when it is shorter than the source and was not continued
 * because the caller asked to be asked first (resume: 'ask').
 */
export class DestinationExistsError extends ClientError {
  constructor(
    message: string,
    readonly shorter = false,
  ) {
    super(message);
  }
}

/** The transfer was stopped through its AbortSignal. */
export class TransferAbortedError extends ClientError {
  constructor() {
    super('the transfer was cancelled');
  }
}

export class AuthenticationError extends ClientError {}
export class HostKeyRejectedError extends ClientError {}

const RESUME_REFUSED = 'resume refused:';
const QUOTA_EXCEEDED = 'quota exceeded';

/** Maps a non-OK STATUS reply onto the error class the UI reacts to. */
export function errorFromStatus(code: number, message: string, offset = 0): ClientError {
  switch (code) {
    case Status.NO_SUCH_FILE:
      return new NotFoundError(code, message);
    case Status.PERMISSION_DENIED:
      return new PermissionError(code, message);
    case Status.OP_UNSUPPORTED:
      return new UnsupportedError(code, message);
    case Status.NO_CONNECTION:
    case Status.CONNECTION_LOST:
      return new ConnectionLostError(message || undefined);
    case Status.FAILURE:
      if (message.startsWith(RESUME_REFUSED)) return new ResumeMismatchError(message, offset);
      if (message.startsWith(QUOTA_EXCEEDED)) return new QuotaError(code, message);
      return new SftpStatusError(code, message);
    default:
      return new SftpStatusError(code, message);
  }
}
