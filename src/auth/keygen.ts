/**
 * SSH key pairs in OpenSSH format, checked before use. ssh2 1.17's
 * generateKeyPairSync('ed25519') drops a leading zero byte of the public key
 * about once in 256 keys, writing a 31-byte key that nothing (ssh2 included)
 * can read back: such a pair is thrown away and made again.
 */
import { utils } from 'ssh2';

export type KeyKind = 'ed25519' | 'rsa' | 'ecdsa';

export interface KeyPairText {
  /** OpenSSH private key file contents. */
  private: string;
  /** One authorized_keys line. */
  public: string;
}

function ecdsaBits(bits: number | undefined): 256 | 384 | 521 {
  if (bits === undefined || bits === 256) return 256;
  if (bits === 384 || bits === 521) return bits;
  throw new Error(`ECDSA keys have 256, 384 or 521 bits, not ${bits}`);
}

function readable(text: string): boolean {
  const parsed = utils.parseKey(text);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  return key !== undefined && !(key instanceof Error);
}

export function generateKeyPair(
  kind: KeyKind,
  options: { bits?: number; comment?: string } = {},
): KeyPairText {
  for (let attempt = 0; attempt < 16; attempt++) {
    const pair =
      kind === 'rsa'
        ? utils.generateKeyPairSync('rsa', { bits: options.bits ?? 3072, comment: options.comment })
        : kind === 'ecdsa'
          ? utils.generateKeyPairSync('ecdsa', {
              bits: ecdsaBits(options.bits),
              comment: options.comment,
            })
          : utils.generateKeyPairSync('ed25519', { comment: options.comment });
    if (readable(pair.private) && readable(pair.public)) return pair;
  }
  throw new Error(`could not generate a readable ${kind} key pair`);
}
