import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';

export interface Argon2Params {
  readonly memoryKiB: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

/** An argon2id hash in the PHC string format ("$argon2id$v=19$m=…"), salt included. */
export function hashPassword(password: string, params: Argon2Params): Promise<string> {
  return argon2.hash(password, {
    type: argon2.argon2id,
    memoryCost: params.memoryKiB,
    timeCost: params.timeCost,
    parallelism: params.parallelism,
  });
}

/**
 * False for a wrong password and also for a hash argon2 cannot read (a hand-edited or truncated
 * database row), so one bad record means a refused login rather than a crashed handler.
 */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

/** The admin password a fresh install starts with; never allowed off loopback. */
export const DEFAULT_ADMIN_PASSWORD = 'password';

/**
 * Hashing with the configured parameters, plus a decoy verify for logins to unknown users: without
 * it, "no such user" would answer in microseconds and "wrong password" in tens of milliseconds,
 * telling a scanner which names exist.
 */
export class PasswordHasher {
  private readonly params: Argon2Params;
  private dummyHash: Promise<string> | undefined;
  private lastDefaultCheck: { hash: string; isDefault: Promise<boolean> } | undefined;

  constructor(params: Argon2Params) {
    this.params = { ...params };
  }

  hash(password: string): Promise<string> {
    return hashPassword(password, this.params);
  }

  verify(hash: string, password: string): Promise<boolean> {
    return verifyPassword(hash, password);
  }

  /**
   * Whether `hash` is of the first-start admin password. The answer for the last hash asked
   * about is kept: the console asks at every login, and the hash changes with the password.
   */
  async isDefaultAdminPassword(hash: string): Promise<boolean> {
    if (this.lastDefaultCheck?.hash !== hash) {
      this.lastDefaultCheck = { hash, isDefault: this.verify(hash, DEFAULT_ADMIN_PASSWORD) };
    }
    return this.lastDefaultCheck.isDefault;
  }

  /** Costs what a real verify costs and always resolves false. */
  async dummyVerify(password: string): Promise<false> {
    // Shared promise: concurrent first callers wait for one hash instead of each computing one.
    this.dummyHash ??= this.hash(randomBytes(32).toString('base64'));
    let hash: string;
    try {
      hash = await this.dummyHash;
    } catch (err) {
      this.dummyHash = undefined;
      throw err;
    }
    await verifyPassword(hash, password);
    return false;
  }
}
