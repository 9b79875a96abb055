/**
 * Which ciphers a connection is offered.
 *
 * In SSH the client's order decides: the first cipher on the client's list
 * that the server also offers wins. OpenSSH's client lists
 * chacha20-poly1305, then AES-CTR (with a separate HMAC), then AES-GCM. On
 * this server's crypto (OpenSSL through ssh2's binding, with AES-NI) AES-GCM
 * is the fastest of the three, and AES-CTR with HMAC-SHA2 the slowest. The
 * only way for a server to choose is by what it offers, so a client that says
 * it is OpenSSH 6.2 or later (every such version has AES-GCM) is offered
 * AES-GCM alone; every other client gets the full list, because libssh2 1.10
 * and paramiko 2.x know no AES-GCM.
 *
 * An OpenSSH client configured without AES-GCM (`Ciphers aes256-ctr`) fails
 * that first key exchange with "no matching cipher found". Its address and
 * identification line are then remembered for a day, and from its next
 * connection on it is offered the full list.
 *
 * ssh2 builds its KEXINIT once per server and sends it right after it has read
 * the client's identification line, in the same call that emits 'connection'.
 * The handler of that event swaps the connection's offer for one that differs
 * only in the cipher lists. ssh2 keeps the offer in a private field; if that
 * field is not what this module expects (another ssh2 version), the offer is
 * left alone and the caller is told, so the connection still works.
 */

/** Every cipher offered to clients in general, fastest first. */
export const CIPHERS = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
  'aes128-ctr',
  'aes192-ctr',
  'aes256-ctr',
  'chacha20-poly1305@openssh.com',
] as const;

/** The ciphers offered to OpenSSH clients. */
export const OPENSSH_CIPHERS = ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com'] as const;

/** True for an identification line of OpenSSH 6.2 or later, the first with AES-GCM. */
export function isOpensshWithGcm(identRaw: string): boolean {
  const m = /^SSH-2\.0-OpenSSH_(\d+)\.(\d+)/.exec(identRaw);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > 6 || (major === 6 && minor >= 2);
}

/** One name-list of ssh2's offer. */
interface NameList {
  array: string[];
}

/** The part of ssh2's KexInit this module reads. */
interface KexInitShape {
  constructor: new (algorithms: KexAlgorithms) => KexInitShape;
  lists: {
    kex: NameList;
    serverHostKey: NameList;
    cs: { cipher: NameList; mac: NameList; compress: NameList };
    sc: { cipher: NameList; mac: NameList; compress: NameList };
  };
}

/** What ssh2's KexInit constructor takes. */
interface KexAlgorithms {
  kex: string[];
  serverHostKey: string[];
  cs: { cipher: string[]; mac: string[]; compress: string[]; lang: string[] };
  sc: { cipher: string[]; mac: string[]; compress: string[]; lang: string[] };
}

function isNameList(v: unknown): v is NameList {
  return (
    typeof v === 'object' &&
    v !== null &&
    Array.isArray((v as { array?: unknown }).array) &&
    (v as { array: unknown[] }).array.every((x) => typeof x === 'string')
  );
}

function isDirection(v: unknown): v is KexInitShape['lists']['cs'] {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Record<string, unknown>;
  return isNameList(d.cipher) && isNameList(d.mac) && isNameList(d.compress);
}

function isKexInit(v: unknown): v is KexInitShape {
  if (typeof v !== 'object' || v === null || typeof v.constructor !== 'function') return false;
  const lists = (v as { lists?: unknown }).lists;
  if (typeof lists !== 'object' || lists === null) return false;
  const l = lists as Record<string, unknown>;
  return isNameList(l.kex) && isNameList(l.serverHostKey) && isDirection(l.cs) && isDirection(l.sc);
}

/** The connection's protocol object, where ssh2 keeps the offer. */
interface WithProtocol {
  _protocol?: { _offer?: unknown };
}

/** The OpenSSH offer derived from each server's offer, built once per server. */
const opensshOffers = new WeakMap<object, KexInitShape>();

/** `base` with OPENSSH_CIPHERS as its cipher lists, everything else unchanged. */
function opensshOffer(base: KexInitShape): KexInitShape {
  const cached = opensshOffers.get(base);
  if (cached) return cached;
  const direction = (d: KexInitShape['lists']['cs']): KexAlgorithms['cs'] => ({
    cipher: [...OPENSSH_CIPHERS],
    mac: [...d.mac.array],
    compress: [...d.compress.array],
    lang: [],
  });
  const offer = new base.constructor({
    kex: [...base.lists.kex.array],
    serverHostKey: [...base.lists.serverHostKey.array],
    cs: direction(base.lists.cs),
    sc: direction(base.lists.sc),
  });
  opensshOffers.set(base, offer);
  return offer;
}

/** How long a client that failed the narrowed offer keeps getting the full list. */
const FULL_LIST_MS = 24 * 3600 * 1000;
/** Clients remembered at most; the oldest is forgotten first. */
const MAX_REMEMBERED = 10_000;

/** What `narrow` did to a connection's offer. */
export type OfferOutcome = 'narrowed' | 'unchanged' | 'unsupported';

/** Decides, per connection, whether an OpenSSH client is offered AES-GCM only. */
export class CipherOffers {
  /** "ip identRaw" → when the full-list exception ends (ms since the epoch). */
  private readonly fullList = new Map<string, number>();

  constructor(
    private readonly gcmForOpenssh: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Narrows the offer of this connection to AES-GCM when the client is
   * OpenSSH and has not failed that offer lately. Call it from the server's
   * 'connection' event, before ssh2 sends its KEXINIT. 'unsupported' means
   * ssh2's internals are not as expected and the offer was left alone.
   */
  narrow(connection: object, ip: string, identRaw: string): OfferOutcome {
    if (!this.gcmForOpenssh || !isOpensshWithGcm(identRaw)) return 'unchanged';
    const key = `${ip} ${identRaw}`;
    const until = this.fullList.get(key);
    if (until !== undefined) {
      if (until > this.now()) return 'unchanged';
      this.fullList.delete(key);
    }
    const protocol = (connection as WithProtocol)._protocol;
    const base = protocol?._offer;
    if (!protocol || !isKexInit(base)) return 'unsupported';
    protocol._offer = opensshOffer(base);
    return 'narrowed';
  }

  /**
   * Called with a connection's error. True when it was a narrowed offer that
   * found no common cipher: the client gets the full list from now on.
   */
  failed(outcome: OfferOutcome, ip: string, identRaw: string, message: string): boolean {
    if (outcome !== 'narrowed' || !/no matching (C->S|S->C) cipher/.test(message)) return false;
    const key = `${ip} ${identRaw}`;
    this.fullList.delete(key);
    this.fullList.set(key, this.now() + FULL_LIST_MS);
    if (this.fullList.size > MAX_REMEMBERED) {
      const oldest = this.fullList.keys().next();
      if (!oldest.done) this.fullList.delete(oldest.value);
    }
    return true;
  }
}
