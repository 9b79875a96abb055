/** First-start accounts (the admin and the demo user) and the default-password guard. */
import type { Config } from '../config/types';
import type { Logger } from '../log/types';
import type { Store } from '../store/types';
import { DEFAULT_ADMIN_PASSWORD, type PasswordHasher } from '../auth/passwords';
import type { Homes } from '../vfs/homes';
import { MiniftpError } from '../errors';

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export async function ensureAccounts(o: {
  config: Config;
  store: Store;
  hasher: PasswordHasher;
  homes: Homes;
  logger: Logger;
}): Promise<void> {
  const { config, store, hasher, logger } = o;
  if (!(await store.users.get(config.admin.user))) {
    await store.users.create({
      name: config.admin.user,
      passwordHash: await hasher.hash(config.admin.password),
      quotaBytes: 0,
      quotaFiles: 0,
      isAdmin: true,
    });
    logger.info('account.created', { user: config.admin.user, role: 'admin' });
  }
  const demo = config.demoUser.name;
  if (demo !== '' && !(await store.users.get(demo)) && (await store.users.list()).length === 1) {
    await store.users.create({
      name: demo,
      passwordHash: await hasher.hash(config.demoUser.password),
      quotaBytes: config.users.defaultQuota,
      quotaFiles: config.users.defaultFileQuota,
      isAdmin: false,
    });
    await o.homes.ensure(demo);
    logger.info('account.created', { user: demo, role: 'user' });
  }
  if (!isLoopback(config.host)) {
    const admin = await store.users.get(config.admin.user);
    if (admin && (await hasher.verify(admin.passwordHash, DEFAULT_ADMIN_PASSWORD))) {
      const port = config.port === 0 ? 'PORT' : String(config.port);
      throw MiniftpError.invalid(
        `refusing to listen on ${config.host} while the admin password is still the default: ` +
          `start the server on 127.0.0.1 and run "ssh -p ${port} ${config.admin.user}@127.0.0.1 passwd" first`,
      );
    }
  }
}
