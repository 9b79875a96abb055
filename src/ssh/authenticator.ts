/**
 * Decides ssh2 authentication requests: argon2id passwords (also through
 * keyboard-interactive) and stored public keys. Unknown users and wrong
 * passwords cost the same time and get the same answer.
 *
 * Each connection gets `maxAuthTries` failed attempts, counted as OpenSSH
 * counts them: wrong passwords, bad signatures and offered keys that are not
 * on file (the first "none" probe, and a key query that the client then signs,
 * are free). Wrong passwords and bad signatures also count for the address
 * (bans) and wrong passwords for the account (locks), see LoginThrottle.
 */
import type { AuthContext, AuthenticationType } from 'ssh2';
import { utils } from 'ssh2';
import type { PasswordHasher } from '../auth/passwords';
import { keyMatches } from '../auth/public-keys';
import type { LoginThrottle } from '../auth/throttle';
import type { Logger } from '../log/types';
import type { Store, UserRecord } from '../store/types';
import { describeError } from '../errors';
import { clip } from '../util/clip';

const METHODS: AuthenticationType[] = ['publickey', 'password', 'keyboard-interactive'];

export interface AuthOutcome {
  user: string;
  method: string;
  /** The account is the admin's (its channels go to the console), as the store said at login. */
  isAdmin: boolean;
}

/** What every connection's authenticator shares. */
export interface AuthenticatorOptions {
  store: Store;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  logger: Logger;
  maxAuthTries: number;
}

/** What the connection does for its authenticator. */
export interface ConnectionHooks {
  /** Ends the connection: its attempts are used up, or its address is banned. */
  disconnect(reason: string): void;
  /** This connection's failure got its address banned: other connections from it end too. */
  banned(): void;
  /**
   * Asked just before a login is accepted, in the same tick: a reason to turn
   * it away (the user's session limit), or undefined to let it in.
   */
  admit(user: string): string | undefined;
  /** Turns the login away with `reason` shown to the client, and ends the connection. */
  refuse(reason: string): void;
  /**
   * The login is accepted: registered in the same tick as the account was
   * checked, so disabling or deleting the account either comes before (and
   * the login fails) or after (and ends this connection). Called just before
   * ssh2's accept(), which may emit 'ready' inside it.
   */
  accepted(outcome: AuthOutcome): void;
}

export interface ConnectionAuthOptions extends AuthenticatorOptions {
  /** The client's address, for bans (the one the connection was admitted under). */
  ip: string;
  hooks: ConnectionHooks;
  /**
   * Told of every decided attempt (passwords, signed keys, refusals), for the login history
   * and the metrics; key queries and offers of keys not on file are not attempts here.
   */
  onAttempt?: (a: {
    user: string;
    method: string;
    result: 'ok' | 'failed' | 'refused';
    reason: string;
  }) => void;
}

/** One per connection: counts its failed attempts. */
export class ConnectionAuth {
  private failures = 0;
  /** A "none" request was seen: the next ones count as failures. */
  private probed = false;
  /** The connection is being ended: attempts already queued behind the last one are refused. */
  private over = false;
  private readonly ip: string;
  private readonly hooks: ConnectionHooks;

  constructor(private readonly o: ConnectionAuthOptions) {
    this.ip = o.ip;
    this.hooks = o.hooks;
  }

  /**
   * The connection is gone: an attempt still being verified must not be
   * accepted (ssh2 would emit 'ready' on a closed connection and start
   * keepalive pings that nothing ever stops).
   */
  close(): void {
    this.over = true;
  }

  /** Handles one ssh2 'authentication' event; resolves with the outcome when it accepted. */
  async handle(ctx: AuthContext): Promise<AuthOutcome | undefined> {
    // A client may pipeline attempts; ssh2 hands over the next one even after we disconnected.
    if (this.over) {
      ctx.reject([]);
      return undefined;
    }
    if (this.stopIfBanned(ctx)) return undefined;
    const user = ctx.username;
    switch (ctx.method) {
      case 'password':
        return this.checkPassword(ctx, user, ctx.password, 'password');
      case 'keyboard-interactive':
        return new Promise((resolve) => {
          ctx.prompt([{ prompt: 'Password: ', echo: false }], (answers) => {
            void this.checkPassword(ctx, user, answers[0] ?? '', 'keyboard-interactive').then(
              resolve,
            );
          });
        });
      case 'publickey':
        return this.checkKey(ctx, user);
      default:
        // Clients ask with "none" which methods there are; only a repeated one is an attempt.
        if (ctx.method === 'none' && !this.probed) {
          this.probed = true;
          ctx.reject(METHODS);
          return undefined;
        }
        this.countTry(ctx);
        return undefined;
    }
  }

  /** The address got banned (here or on another connection): no more attempts on this one. */
  private stopIfBanned(ctx: AuthContext): boolean {
    if (!this.o.throttle.isBanned(this.ip)) return false;
    this.over = true;
    ctx.reject([]);
    this.hooks.disconnect('too many failed logins from this address');
    return true;
  }

  private async account(user: string): Promise<UserRecord | undefined> {
    const rec = await this.o.store.users.get(user);
    return rec && !rec.disabled ? rec : undefined;
  }

  private async checkPassword(
    ctx: AuthContext,
    user: string,
    password: string,
    method: string,
  ): Promise<AuthOutcome | undefined> {
    // A locked account is answered as a wrong password, after the same work.
    const locked = this.o.throttle.isLocked(user, this.ip);
    const rec = locked ? undefined : await this.account(user);
    const ok = rec
      ? await this.o.hasher.verify(rec.passwordHash, password)
      : await this.o.hasher.dummyVerify(password);
    if (this.over) {
      ctx.reject([]);
      return undefined;
    }
    if (ok && rec) return this.succeed(ctx, user, method, rec.passwordHash);
    this.fail(
      ctx,
      user,
      method,
      locked ? 'account locked' : rec ? 'wrong password' : 'unknown or disabled user',
    );
    return undefined;
  }

  private async checkKey(ctx: AuthContext, user: string): Promise<AuthOutcome | undefined> {
    if (ctx.method !== 'publickey') return undefined;
    const rec = await this.account(user);
    const stored = rec
      ? (await this.o.store.keys.list(user)).find((k) => keyMatches(k, ctx.key))
      : undefined;
    if (this.over) {
      ctx.reject([]);
      return undefined;
    }
    if (!stored) {
      // Clients offer each of their keys; each one not on file is a try, as in
      // OpenSSH, but not a failure for bans or locks (keys cannot be guessed).
      this.countTry(ctx);
      return undefined;
    }
    if (!ctx.signature || !ctx.blob) {
      // The client only asks whether this key would do; it signs next.
      ctx.accept();
      return undefined;
    }
    const parsed = utils.parseKey(`${stored.algo} ${stored.data}`);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (key && !(key instanceof Error) && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) {
      return this.succeed(ctx, user, 'publickey');
    }
    this.fail(ctx, user, 'publickey', 'bad signature');
    return undefined;
  }

  /**
   * The account is read again (it may have been disabled, deleted or given a
   * new password while the password was being verified); from then to
   * accept() everything runs in one tick: the session limit is checked and
   * the login registered.
   */
  private async succeed(
    ctx: AuthContext,
    user: string,
    method: string,
    verifiedHash?: string,
  ): Promise<AuthOutcome | undefined> {
    const rec = await this.account(user);
    if (this.over) {
      ctx.reject([]);
      return undefined;
    }
    if (this.stopIfBanned(ctx)) return undefined;
    if (!rec || (verifiedHash !== undefined && rec.passwordHash !== verifiedHash)) {
      const reason = 'account disabled, deleted or changed during login';
      this.o.logger.warn('login.failed', { user: clip(user), ip: this.ip, method, reason });
      this.o.onAttempt?.({ user, method, result: 'failed', reason });
      ctx.reject(METHODS);
      return undefined;
    }
    const refusal = this.hooks.admit(user);
    if (refusal !== undefined) {
      this.over = true;
      this.o.logger.warn('login.refused', { user, ip: this.ip, reason: refusal });
      this.o.onAttempt?.({ user, method, result: 'refused', reason: refusal });
      this.hooks.refuse(refusal);
      return undefined;
    }
    this.o.throttle.recordSuccess(this.ip, user);
    // In the background, so that nothing is awaited between the check and accept(); a full disk
    // must not lock users out either: they may be logging in to delete files.
    this.o.store.users.touchLogin(user, new Date()).catch((err: unknown) => {
      this.o.logger.warn('login.touch_failed', { user, error: describeError(err) });
    });
    const outcome = { user, method, isAdmin: rec.isAdmin };
    this.o.onAttempt?.({ user, method, result: 'ok', reason: '' });
    this.hooks.accepted(outcome);
    ctx.accept();
    return outcome;
  }

  /** One attempt used on this connection; past the limit the connection ends. */
  private countTry(ctx: AuthContext, banned = false): void {
    this.failures++;
    ctx.reject(METHODS);
    if (banned || this.failures >= this.o.maxAuthTries) {
      this.over = true;
      this.hooks.disconnect(
        banned ? 'too many failed logins from this address' : 'too many authentication failures',
      );
    }
  }

  private fail(ctx: AuthContext, user: string, method: string, reason: string): void {
    const { banned, locked } = this.o.throttle.recordFailure(this.ip, user, method !== 'publickey');
    const logged = clip(user);
    this.o.logger.warn('login.failed', { user: logged, ip: this.ip, method, reason });
    this.o.onAttempt?.({ user, method, result: 'failed', reason });
    if (locked) this.o.logger.warn('account.locked', { user: logged, ip: this.ip });
    if (banned) this.o.logger.warn('ip.banned', { ip: this.ip });
    this.countTry(ctx, banned);
    if (banned) this.hooks.banned();
  }
}
