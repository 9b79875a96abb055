/**
 * The upload layer's place among the layers: vfs knows uploads only through
 * the UploadTracker interface it declares, uploads knows nothing of the
 * protocol, and only the composition root names the implementation.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

/** src/ as compiled next to this test: dist/test/unit -> the repository's src/. */
const SRC = path.resolve(__dirname, '..', '..', '..', 'src');

/** The .ts files under `dir`, relative to src/. */
async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(path.join(SRC, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await tsFiles(rel)));
    else if (e.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** What `file` (relative to src/) imports from src/, as paths relative to src/. */
async function importsOf(file: string): Promise<string[]> {
  const text = await fsp.readFile(path.join(SRC, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/\bfrom '(\.{1,2}\/[^']+)'/g)) {
    out.push(path.posix.join(path.posix.dirname(file), m[1] as string));
  }
  return out;
}

async function crossing(dirs: string[], forbidden: RegExp): Promise<string[]> {
  const found: string[] = [];
  for (const dir of dirs) {
    for (const file of await tsFiles(dir)) {
      for (const target of await importsOf(file)) {
        if (forbidden.test(target)) found.push(`${file} -> ${target}`);
      }
    }
  }
  return found;
}

describe('uploads layering', function () {
  it('outside uploads, only the composition root names the implementation', async function () {
    const dirs = (await fsp.readdir(SRC, { withFileTypes: true }))
      .filter((e) => e.isDirectory() && e.name !== 'uploads' && e.name !== 'main')
      .map((e) => e.name);
    expect(await crossing(dirs, /^uploads\//)).to.deep.equal([]);
  });
});
