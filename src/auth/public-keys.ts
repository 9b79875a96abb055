import { createHash, timingSafeEqual } from 'node:crypto';
import { utils } from 'ssh2';
import { MiniftpError } from '../errors';

export interface AuthorizedKey {
  /** The key type inside the blob, e.g. "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256". */
  readonly algo: string;
  /** Base64 of the SSH wire blob, as in authorized_keys. */
  readonly data: string;
  readonly comment: string;
  /** "SHA256:" + unpadded base64, as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
}

const ACCEPTED_TYPES = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
]);

/**
 * RSA keys are one key type ("ssh-rsa") used with several signature algorithms; a line or an
 * offer may name the signature algorithm instead of the key type.
 */
function keyType(algo: string): string {
  return algo === 'rsa-sha2-256' || algo === 'rsa-sha2-512' ? 'ssh-rsa' : algo;
}

function invalid(reason: string): MiniftpError {
  return MiniftpError.invalid(`not an SSH public key: ${reason}`);
}

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * Reads one public key as pasted from a .pub file or an authorized_keys line
 * ("ssh-ed25519 AAAA… comment"). Options before the key type are not accepted: MiniFTP would not
 * enforce them, and silently dropping a from="…" restriction would widen access.
 */
export function parseAuthorizedKey(line: string): AuthorizedKey {
  const text = line.trim();
  if (text === '') throw invalid('the line is empty');
  if (text.startsWith('-----BEGIN')) {
    throw invalid('this is a private key; paste the .pub file instead');
  }

  const firstSpace = text.search(/\s/);
  const head = firstSpace < 0 ? text : text.slice(0, firstSpace);
  // ssh2's parser only knows key types, so a line naming an RSA signature algorithm is rewritten.
  const normalised = keyType(head) === head ? text : `ssh-rsa${text.slice(head.length)}`;

  const key = utils.parseKey(normalised);
  if (key instanceof Error) {
    // An authorized_keys line with options in front: command="…" ssh-ed25519 AAAA…
    if (
      /\s(ssh-(ed25519|rsa|dss)|ecdsa-sha2-|sk-)\S*\s+AAAA/.test(` ${text}`) &&
      !/^(ssh-|ecdsa-|sk-)/.test(text)
    ) {
      throw invalid(
        'options in front of the key type (from=, command=…) are not supported: give the key without them',
      );
    }
    throw invalid(key.message);
  }
  if (key.isPrivateKey()) throw invalid('this is a private key; paste the .pub file instead');
  if (!ACCEPTED_TYPES.has(key.type)) {
    throw invalid(`key type ${key.type} is not supported (use ed25519, ECDSA or RSA)`);
  }

  const blob = key.getPublicSSH();
  const fields = normalised.split(/\s+/);
  if (fields[0] === key.type) {
    // The blob must round-trip exactly: clients offer these bytes and ssh-keygen hashes them.
    const pasted = Buffer.from(fields[1] ?? '', 'base64');
    if (!pasted.equals(blob)) throw invalid('the key data is malformed');
  }

  return {
    algo: key.type,
    data: blob.toString('base64'),
    comment: key.comment.trim(),
    fingerprint: fingerprintOf(blob),
  };
}

/** Whether a key offered during authentication is the stored one; compares in constant time. */
export function keyMatches(
  stored: { readonly algo: string; readonly data: string },
  offered: { readonly algo: string; readonly data: Buffer },
): boolean {
  if (keyType(stored.algo) !== keyType(offered.algo)) return false;
  const blob = Buffer.from(stored.data, 'base64');
  // Lengths are public (every key of a type has the same size); only the bytes need hiding.
  if (blob.length !== offered.data.length) return false;
  return timingSafeEqual(blob, offered.data);
}
