import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

const SRC = path.resolve(__dirname, '..', '..', '..', 'src');
/** A file longer than this does more than one job: split it. */
const MAX_LINES = 450;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sources(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

describe('files of src/', function () {
  it(`keeps every file at most ${MAX_LINES} lines`, function () {
    const long = sources(SRC)
      .map((f) => ({
        f: path.relative(SRC, f),
        lines: readFileSync(f, 'utf8').split('\n').length - 1,
      }))
      .filter(({ lines }) => lines > MAX_LINES)
      .map(({ f, lines }) => `${f}: ${lines} lines`);
    expect(long).to.deep.equal([]);
  });
});
