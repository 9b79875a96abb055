/** Local files for transfer tests: random content, digests, and tree snapshots. */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';

/** Writes `size` random bytes to `file` in 1 MiB pieces. */
export async function writeRandomFile(file: string, size: number): Promise<void> {
  const handle = await fsp.open(file, 'w');
  try {
    for (let done = 0; done < size;) {
      const n = Math.min(1024 * 1024, size - done);
      await handle.write(randomBytes(n));
      done += n;
    }
  } finally {
    await handle.close();
  }
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => hash.update(d))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Every entry under `root` as "relative/path" → "dir" or the file's sha256,
 * so two trees compare with one deep equality.
 */
export async function snapshotTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
      const r = rel === '' ? entry.name : `${rel}/${entry.name}`;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        out[r] = 'dir';
        await walk(full, r);
      } else if (entry.isSymbolicLink()) {
        out[r] = `link:${await fsp.readlink(full)}`;
      } else {
        out[r] = await sha256File(full);
      }
    }
  };
  await walk(root, '');
  return out;
}

/** A small tree: `dirs` nested directories holding `files` small random files in all. */
export async function makeTree(root: string, files: number): Promise<void> {
  const dirs = ['', 'a', 'a/b', 'a/b/c', 'd', 'd/empty-sibling', 'e f'];
  for (const d of dirs) await fsp.mkdir(path.join(root, d), { recursive: true });
  const fileDirs = dirs.filter((d) => d !== 'd/empty-sibling');
  for (let i = 0; i < files; i++) {
    const dir = fileDirs[i % fileDirs.length] as string;
    await fsp.writeFile(path.join(root, dir, `file-${i}.dat`), randomBytes(100 + i * 97));
  }
}

/** A file under test/integration/fixtures/ in the source tree (tests run from dist/). */
export function fixture(name: string): string {
  return path.join(__dirname, '..', '..', '..', 'test', 'integration', 'fixtures', name);
}

/** Bytes and number of the regular files below `dir` (directories and links not counted). */
export async function regularFilesUnder(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      const sub = await regularFilesUnder(p);
      bytes += sub.bytes;
      files += sub.files;
    } else if (e.isFile()) {
      bytes += (await fsp.lstat(p)).size;
      files++;
    }
  }
  return { bytes, files };
}
