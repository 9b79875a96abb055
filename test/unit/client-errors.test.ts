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
import { ProgressReporter, type TransferProgress } from '../../src/client/progress';
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

describe('transfer progress', () => {
  it('throttles reports, always sends the first and last, and measures the rate', () => {
    let now = 0;
    const seen: TransferProgress[] = [];
    const p = new ProgressReporter({
      total: 1000,
      resumedFrom: 100,
      listener: (e) => seen.push(e),
      intervalMs: 100,
      now: () => now,
    });
    p.start();
    for (let i = 0; i < 9; i++) {
      now += 50;
      p.add(100);
    }
    p.finish();
    // First at start, then every other add (100 ms apart), then the final one.
    expect(seen.map((e) => e.transferred)).to.deep.equal([100, 300, 500, 700, 900, 1000]);
    expect(seen[1]).to.include({ total: 1000, resumedFrom: 100, bytesPerSecond: 2000 });
    expect(seen[1]?.etaSeconds).to.equal(0.35);
    expect(seen[0]?.etaSeconds).to.equal(null);
    expect(seen[seen.length - 1]?.etaSeconds).to.equal(0);
  });
});
