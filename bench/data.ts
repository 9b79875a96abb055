/**
 * Test data, made once per run: incompressible bytes from AES-128-CTR over
 * zeros (far faster than randomBytes, and just as useless to a compressor).
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

const CHUNK = 4 * 1024 * 1024;

export async function writeRandomFile(file: string, bytes: number): Promise<void> {
  const cipher = createCipheriv('aes-128-ctr', randomBytes(16), randomBytes(16));
  const zeros = Buffer.alloc(CHUNK);
  const fd = await fs.promises.open(file, 'w');
  try {
    let left = bytes;
    while (left > 0) {
      const n = Math.min(left, CHUNK);
      const chunk = cipher.update(n === CHUNK ? zeros : zeros.subarray(0, n));
      await fd.write(chunk, 0, chunk.length);
      left -= n;
    }
  } finally {
    await fd.close();
  }
}

export async function writeSmallFiles(dir: string, count: number, bytes: number): Promise<void> {
  await fs.promises.mkdir(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    await fs.promises.writeFile(
      path.join(dir, `f${String(i).padStart(4, '0')}.bin`),
      randomBytes(bytes),
    );
  }
}

/** MD5 of the first `bytes` bytes of `file`. */
export function prefixMd5(file: string, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const hash = createHash('md5');
    if (bytes === 0) {
      resolve(hash.digest());
      return;
    }
    fs.createReadStream(file, { start: 0, end: bytes - 1, highWaterMark: 1024 * 1024 })
      .on('data', (d) => hash.update(d))
      .on('error', reject)
      .on('end', () => resolve(hash.digest()));
  });
}
