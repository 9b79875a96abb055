/** fileTypeOf, the one reading of a mode's type bits, and the long names built on it. */
import { expect } from 'chai';
import { modeString } from '../../src/sftp/attrs';
import { fileTypeOf, isDirectoryMode } from '../../src/util/file-type';

describe('file types from modes', function () {
  it('reads every POSIX file type from the type bits, whatever the permission bits', function () {
    expect(fileTypeOf(0o040755)).to.equal('directory');
    expect(fileTypeOf(0o100644)).to.equal('file');
    expect(fileTypeOf(0o120777)).to.equal('symlink');
    expect(fileTypeOf(0o020620)).to.equal('char-device');
    expect(fileTypeOf(0o060660)).to.equal('block-device');
    expect(fileTypeOf(0o010600)).to.equal('fifo');
    expect(fileTypeOf(0o140755)).to.equal('socket');
    expect(fileTypeOf(0o000644)).to.equal('unknown');
    expect(fileTypeOf(0o170000)).to.equal('unknown');
  });

  it('tells a directory only from a mode that says so', function () {
    expect(isDirectoryMode(0o040700)).to.equal(true);
    expect(isDirectoryMode(0o100700)).to.equal(false);
    expect(isDirectoryMode(undefined)).to.equal(false);
  });

  it('gives long names the type letter ls shows', function () {
    expect(modeString(0o040755)).to.equal('drwxr-xr-x');
    expect(modeString(0o100644)).to.equal('-rw-r--r--');
    expect(modeString(0o120777)).to.equal('lrwxrwxrwx');
    expect(modeString(0o020620)).to.equal('crw--w----');
    expect(modeString(0o060660)).to.equal('brw-rw----');
    expect(modeString(0o010600)).to.equal('prw-------');
    expect(modeString(0o140755)).to.equal('srwxr-xr-x');
    expect(modeString(0o104755)).to.equal('-rwsr-xr-x');
    expect(modeString(0o000644)).to.equal('?rw-r--r--');
  });
});
