import { expect } from 'chai';
import {
  ConnectionLostError,
  NotFoundError,
  PermissionError,
  QuotaError,
  ResumeMismatchError,
  SftpStatusError,
  UnsupportedError,
  errorFromStatus,
} from '../../src/client/errors';
import { Status } from '../../src/sftp/constants';

describe('client errors from STATUS replies', () => {
  it('maps each status to its class and keeps the server message', () => {
    const cases: Array<[number, string, new (...args: never[]) => Error]> = [
      [Status.NO_SUCH_FILE, 'no such file', NotFoundError],
      [Status.PERMISSION_DENIED, 'permission denied', PermissionError],
      [Status.OP_UNSUPPORTED, 'unsupported extension x', UnsupportedError],
      [Status.FAILURE, 'quota exceeded (used 1.0 MiB of 1.0 MiB)', QuotaError],
      [Status.FAILURE, 'resume refused: the first 5 bytes differ', ResumeMismatchError],
      [Status.CONNECTION_LOST, 'gone', ConnectionLostError],
      [Status.FAILURE, 'disk on fire', SftpStatusError],
    ];
    for (const [code, message, cls] of cases) {
      const err = errorFromStatus(code, message, 5);
      expect(err, message).to.be.instanceOf(cls);
      expect(err.message).to.equal(message);
    }
  });

  it('keeps the code on status errors and the offset on refused resumes', () => {
    const quota = errorFromStatus(Status.FAILURE, 'quota exceeded (used 1 of 1)');
    expect(quota).to.be.instanceOf(SftpStatusError);
    expect((quota as QuotaError).code).to.equal(Status.FAILURE);
    expect(quota.name).to.equal('QuotaError');
    const resume = errorFromStatus(Status.FAILURE, 'resume refused: no', 1234);
    expect((resume as ResumeMismatchError).offset).to.equal(1234);
  });
});
