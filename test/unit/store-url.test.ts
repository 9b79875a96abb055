/** --store-url: which values the configuration takes, and what of the URL may be shown. */
import { expect } from 'chai';
import { loadConfig } from '../../src/config/load';
import { describeError } from '../../src/errors';
import { hostPort, redactUrl } from '../../src/store/engine/url';

function load(argv: string[], env: NodeJS.ProcessEnv = {}): unknown {
  try {
    return loadConfig({ argv, env, cwd: '/tmp', defaultsFile: null });
  } catch (err) {
    return err;
  }
}

describe('store URL', function () {
  it('is empty by default (SQLite), and takes postgres:// and postgresql:// from the flag or MINIFTP_STORE_URL', function () {
    const none = load([]) as { store: { url: string; poolSize: number; timeout: number } };
    expect(none.store).to.deep.equal({ url: '', poolSize: 10, timeout: 10 });
    const flag = load(['--store-url', 'postgresql://m:pw@db.example:6543/x']) as {
      store: { url: string };
    };
    expect(flag.store.url).to.equal('postgresql://m:pw@db.example:6543/x');
    const env = load([], { MINIFTP_STORE_URL: 'postgres://db/x' }) as { store: { url: string } };
    expect(env.store.url).to.equal('postgres://db/x');
  });

  it('refuses another scheme or text that is no URL, without echoing it (it may hold a password)', function () {
    for (const bad of ['mysql://m:hunter2@db/x', 'hunter2', 'postgres:hunter2']) {
      const err = load(['--store-url', bad]);
      expect(err, bad).to.be.instanceOf(Error);
      const text = describeError(err);
      expect(text).to.include('store.url');
      expect(text).to.include('postgres://');
      expect(text).to.not.include('hunter2');
    }
  });

  it('shows a URL with its password as *** and names host:port', function () {
    expect(redactUrl('postgres://m:s3cret@db.example:6543/x?sslmode=require')).to.equal(
      'postgres://m:***@db.example:6543/x?sslmode=require',
    );
    expect(redactUrl('postgres://db.example/x?password=s3cret')).to.equal(
      'postgres://db.example/x?password=***',
    );
    expect(redactUrl('postgres://m@db/x')).to.equal('postgres://m@db/x');
    expect(redactUrl('not a url s3cret')).to.not.include('s3cret');
    expect(hostPort('postgres://m:s@db.example:6543/x')).to.equal('db.example:6543');
    expect(hostPort('postgres://db.example/x')).to.equal('db.example:5432');
  });
});
