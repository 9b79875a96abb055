/**
 * The shape of the SSH and admin layers: admin states what it needs from the
 * SSH layer and imports nothing from above it, each file keeps to one job and
 * a readable length, and no file imports itself back through others.
 */
import { expect } from 'chai';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

const SRC = path.resolve(__dirname, '..', '..', '..', 'src');
const MAX_LINES = 450;

/** Every .ts file below `dir`, as paths relative to src/ with forward slashes. */
async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(full)));
    else if (entry.name.endsWith('.ts'))
      out.push(path.relative(SRC, full).split(path.sep).join('/'));
  }
  return out;
}

/** The project modules a source file imports, as paths relative to src/ without extension. */
async function importsOf(file: string): Promise<string[]> {
  const text = await fsp.readFile(path.join(SRC, file), 'utf8');
  return [...text.matchAll(/\bfrom\s+'(\.[^']*)'/g)].map((m) =>
    path
      .relative(SRC, path.resolve(SRC, path.dirname(file), m[1] as string))
      .split(path.sep)
      .join('/'),
  );
}

async function layerFiles(): Promise<string[]> {
  return [...(await sources(path.join(SRC, 'ssh'))), ...(await sources(path.join(SRC, 'admin')))];
}

describe('SSH and admin layout', function () {
  it('admin imports nothing from ssh, sftp, main or client', async function () {
    const upward: string[] = [];
    for (const file of await sources(path.join(SRC, 'admin'))) {
      for (const target of await importsOf(file)) {
        if (/^(ssh|sftp|main|client)\//.test(target)) upward.push(`${file} -> ${target}`);
      }
    }
    expect(upward).to.deep.equal([]);
  });

  it(`keeps every file of ssh and admin within ${MAX_LINES} lines`, async function () {
    const long: string[] = [];
    for (const file of await layerFiles()) {
      const lines = (await fsp.readFile(path.join(SRC, file), 'utf8')).split('\n').length - 1;
      if (lines > MAX_LINES) long.push(`${file}: ${lines} lines`);
    }
    expect(long).to.deep.equal([]);
  });

  it('has no import circle among the files of ssh and admin', async function () {
    const files = await layerFiles();
    const edges = new Map<string, string[]>();
    for (const file of files) {
      const own = (await importsOf(file)).map((t) => `${t}.ts`).filter((t) => files.includes(t));
      edges.set(file, own);
    }
    const circles: string[] = [];
    const done = new Set<string>();
    const visit = (file: string, trail: string[]): void => {
      const at = trail.indexOf(file);
      if (at >= 0) {
        circles.push([...trail.slice(at), file].join(' -> '));
        return;
      }
      if (done.has(file)) return;
      for (const next of edges.get(file) ?? []) visit(next, [...trail, file]);
      done.add(file);
    };
    for (const file of files) visit(file, []);
    expect(circles).to.deep.equal([]);
  });
});
