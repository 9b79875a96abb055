/**
 * What a user is told of an error, the same for an SFTP status and a hash
 * command's stderr: OpenSSH's words for filesystem errors, MiniFTP's own for
 * its refusals; and the imports that keep the SFTP files free of circles and
 * the exec commands free of the SFTP layer.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import { MiniftpError, errnoKind, userMessage } from '../../src/errors';
import { Status } from '../../src/sftp/constants';
import { isUnexpected, statusFromError } from '../../src/sftp/status';

const SRC = path.resolve(__dirname, '..', '..', '..', 'src');

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: /srv/real/path`), { code, syscall: 'open' });
}

/** The files of src/ a source file imports, as paths relative to src/ (packages left out). */
async function localImports(file: string): Promise<string[]> {
  const text = await fsp.readFile(path.join(SRC, file), 'utf8');
  return [...text.matchAll(/\bfrom\s+'(\.[^']+)'/g)].map(
    (m) => `${path.relative(SRC, path.resolve(SRC, path.dirname(file), m[1] as string))}.ts`,
  );
}

describe('user messages', function () {
  it("gives OpenSSH's words for filesystem errors, and says more for a full disk or too many files", function () {
    const cases: Array<[string, string, number]> = [
      ['ENOENT', 'No such file', Status.NO_SUCH_FILE],
      ['ENOTDIR', 'No such file', Status.NO_SUCH_FILE],
      ['EACCES', 'Permission denied', Status.PERMISSION_DENIED],
      ['ELOOP', 'Permission denied', Status.PERMISSION_DENIED],
      ['EEXIST', 'Failure', Status.FAILURE],
      ['ENOTEMPTY', 'Failure', Status.FAILURE],
      ['ENOSPC', 'no space left on the server disk', Status.FAILURE],
      ['EDQUOT', 'no space left on the server disk', Status.FAILURE],
      ['EMFILE', 'the server has too many open files', Status.FAILURE],
      ['ENFILE', 'the server has too many open files', Status.FAILURE],
      ['EIO', 'Failure', Status.FAILURE],
    ];
    for (const [code, text, status] of cases) {
      expect(userMessage(errno(code)), code).to.equal(text);
      expect(statusFromError(errno(code)), code).to.deep.equal({ code: status, message: text });
    }
  });

  it("keeps MiniFTP's own messages, and says Failure for anything else", function () {
    const quota = MiniftpError.quota('quota exceeded: 5 MiB of 5 MiB used');
    expect(userMessage(quota)).to.equal('quota exceeded: 5 MiB of 5 MiB used');
    expect(statusFromError(quota).code).to.equal(Status.FAILURE);
    const limit = MiniftpError.limit('too many open handles (limit 2)');
    expect(userMessage(limit)).to.equal('too many open handles (limit 2)');
    expect(userMessage(MiniftpError.noSpace())).to.equal('no space left on the server disk');
    expect(userMessage(MiniftpError.notFound())).to.equal('No such file');
    expect(statusFromError(MiniftpError.badMessage('x')).code).to.equal(Status.BAD_MESSAGE);
    expect(userMessage(new Error('/srv/real/path'))).to.equal('Failure');
    expect(userMessage('what')).to.equal('Failure');
  });

  it('tells known system errors from unexpected ones', function () {
    expect(errnoKind(errno('ENOENT'))).to.equal('not-found');
    expect(errnoKind(errno('EIO'))).to.equal(undefined);
    expect(errnoKind(new Error('x'))).to.equal(undefined);
    expect(isUnexpected(errno('EEXIST'))).to.equal(false);
    expect(isUnexpected(errno('EIO'))).to.equal(true);
    expect(isUnexpected(MiniftpError.quota('q'))).to.equal(false);
    expect(isUnexpected(MiniftpError.failure('f'))).to.equal(true);
  });

  describe('imports', function () {
    it('the exec hash commands import nothing from sftp', async function () {
      const imports = await localImports(path.join('ssh', 'hash-exec.ts'));
      expect(imports.filter((f) => f.startsWith(`sftp${path.sep}`))).to.deep.equal([]);
    });
  });
});
