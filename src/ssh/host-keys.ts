/** Host keys: ed25519 and RSA, generated into the keys directory on first start, reused after. */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { utils } from 'ssh2';
import { generateKeyPair, type KeyPairText } from '../auth/keygen';
import { MiniftpError, isErrno } from '../errors';
import type { Logger } from '../log/types';
import { makeDirs } from '../util/make-dirs';

export interface HostKey {
  type: string;
  file: string;
  privateKey: Buffer;
  fingerprint: string;
}

const KINDS = [
  { type: 'ed25519', file: 'ssh_host_ed25519_key' },
  { type: 'rsa', file: 'ssh_host_rsa_key' },
] as const;

async function readExisting(file: string): Promise<Buffer | undefined> {
  try {
    const st = await fsp.stat(file);
    if (st.mode & 0o077) {
      throw MiniftpError.invalid(
        `host key ${file} is readable by other users (mode ${(st.mode & 0o777).toString(8)}): run chmod 600 on it`,
      );
    }
    return await fsp.readFile(file);
  } catch (err) {
    if (isErrno(err) && err.code === 'ENOENT') return undefined;
    throw err;
  }
}

function generate(type: 'ed25519' | 'rsa'): KeyPairText {
  return generateKeyPair(type, { bits: 3072, comment: 'miniftp host key' });
}

export async function loadHostKeys(options: { dir: string; logger: Logger }): Promise<HostKey[]> {
  const { dir, logger } = options;
  await makeDirs(dir, 0o700);
  const keys: HostKey[] = [];
  for (const kind of KINDS) {
    const file = path.join(dir, kind.file);
    let privateKey = await readExisting(file);
    if (!privateKey) {
      const pair = generate(kind.type);
      await fsp.writeFile(file, pair.private, { mode: 0o600, flag: 'wx' });
      await fsp.writeFile(`${file}.pub`, `${pair.public}\n`, { mode: 0o644, flag: 'wx' });
      privateKey = Buffer.from(pair.private);
      logger.info('hostkey.generated', { type: kind.type, file: kind.file });
    }
    const parsed = utils.parseKey(privateKey);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!key || key instanceof Error) {
      throw MiniftpError.invalid(
        `cannot read host key ${file}: ${key instanceof Error ? key.message : 'empty'}`,
      );
    }
    const blob = key.getPublicSSH();
    const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
    logger.info('hostkey.loaded', { type: key.type, fingerprint });
    keys.push({ type: key.type, file, privateKey, fingerprint });
  }
  return keys;
}
