/**
 * Decides ssh2 authentication requests: argon2id passwords (also through
 * keyboard-interactive) and stored public keys. Unknown users and wrong
 * passwords cost the same time and get the same answer.
 */
import type { AuthContext, AuthenticationType } from 'ssh2';
import { utils } from 'ssh2';
import type { PasswordHasher } from '../auth/passwords';
import { keyMatches } from '../auth/public-keys';
import type { LoginThrottle } from '../auth/throttle';
import type { Logger } from '../log/types';
import type { Store } from '../store/types';
import { describeError } from '../errors';

const METHODS: AuthenticationType[] = ['publickey', 'password', 'keyboard-interactive'];

export interface AuthOutcome {
  user: string;
  method: string;
}

export interface AuthenticatorOptions {
  store: Store;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  logger: Logger;
  maxAuthTries: number;
}

/** One per connection: counts its failed attempts. */
export class ConnectionAuth {
  private failures = 0;
  /** The connection is being ended: attempts already queued behind the last one are refused. */
  private over = false;

  constructor(
    private readonly o: AuthenticatorOptions,
    private readonly ip: string,
    /** Called when the connection has used up its attempts or the IP got banned. */
    private readonly disconnect: (reason: string) => void,
    /** Called just before the login is accepted (ssh2 may emit 'ready' inside accept()). */
    private readonly accepted: (outcome: AuthOutcome) => void,
  ) {}

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
        ctx.reject(METHODS);
        return undefined;
    }
  }

  private account(user: string): { name: string; passwordHash: string } | undefined {
    const rec = this.o.store.users.get(user);
    return rec && !rec.disabled ? rec : undefined;
  }

  private async checkPassword(
    ctx: AuthContext,
    user: string,
    password: string,
    method: string,
  ): Promise<AuthOutcome | undefined> {
    const rec = this.account(user);
    const ok = rec
      ? await this.o.hasher.verify(rec.passwordHash, password)
      : await this.o.hasher.dummyVerify(password);
    if (ok) return this.succeed(ctx, user, method);
    this.fail(ctx, user, method, rec ? 'wrong password' : 'unknown or disabled user');
    return undefined;
  }

  private checkKey(ctx: AuthContext, user: string): AuthOutcome | undefined {
    if (ctx.method !== 'publickey') return undefined;
    const rec = this.account(user);
    const stored = rec
      ? this.o.store.keys.list(user).find((k) => keyMatches(k, ctx.key))
      : undefined;
    if (!stored) {
      // Offering a key that is not on file is normal (clients try each of theirs): not a failure.
      ctx.reject(METHODS);
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

  private succeed(ctx: AuthContext, user: string, method: string): AuthOutcome | undefined {
    if (this.over) {
      ctx.reject([]);
      return undefined;
    }
    this.o.throttle.recordSuccess(this.ip);
    try {
      this.o.store.users.touchLogin(user, new Date());
    } catch (err) {
      // A full disk must not lock users out: they may be logging in to delete files.
      this.o.logger.warn('login.touch_failed', { user, error: describeError(err) });
    }
    const outcome = { user, method };
    this.accepted(outcome);
    ctx.accept();
    return outcome;
  }

  private fail(ctx: AuthContext, user: string, method: string, reason: string): void {
    this.failures++;
    const { banned } = this.o.throttle.recordFailure(this.ip);
    this.o.logger.warn('login.failed', { user, ip: this.ip, method, reason });
    if (banned) this.o.logger.warn('ip.banned', { ip: this.ip });
    ctx.reject(METHODS);
    if (banned || this.failures >= this.o.maxAuthTries) {
      this.over = true;
      this.disconnect(
        banned ? 'too many failed logins from this address' : 'too many authentication failures',
      );
    }
  }
}
