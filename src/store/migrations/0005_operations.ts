import type { Migration } from './migration';

/**
 * Operations: the hook outbox (events delivered at least once, claimed with a lease), the login
 * history, address allow / deny rules (global: user ''), per-user transfer limits.
 */
export const operations: Migration = {
  id: '0005_operations',
  sqlite: `
    CREATE TABLE hook_outbox (
      id            INTEGER PRIMARY KEY AUTOINCREMENT,
      event         TEXT    NOT NULL,
      payload       TEXT    NOT NULL,
      created_at    TEXT    NOT NULL,
      state         TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'delivered', 'failed')),
      attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
      next_at       INTEGER NOT NULL,
      claimed_by    TEXT,
      claimed_until INTEGER NOT NULL DEFAULT 0,
      last_error    TEXT,
      delivered_at  TEXT
    ) STRICT;
    CREATE INDEX hook_outbox_due ON hook_outbox (state, next_at);

    CREATE TABLE login_history (
      id      INTEGER PRIMARY KEY AUTOINCREMENT,
      at      TEXT NOT NULL,
      user    TEXT NOT NULL,
      address TEXT NOT NULL,
      method  TEXT NOT NULL,
      result  TEXT NOT NULL CHECK (result IN ('ok', 'failed', 'refused')),
      reason  TEXT NOT NULL DEFAULT '',
      client  TEXT NOT NULL DEFAULT '',
      node    TEXT NOT NULL DEFAULT ''
    ) STRICT;
    CREATE INDEX login_history_at ON login_history (at);
    CREATE INDEX login_history_user_at ON login_history (user, at);

    CREATE TABLE address_rules (
      user     TEXT NOT NULL DEFAULT '',
      action   TEXT NOT NULL CHECK (action IN ('allow', 'deny')),
      cidr     TEXT NOT NULL,
      added_at TEXT NOT NULL,
      PRIMARY KEY (user, action, cidr)
    ) STRICT, WITHOUT ROWID;
    CREATE TRIGGER address_rules_user_deleted AFTER DELETE ON users BEGIN
      DELETE FROM address_rules WHERE user = old.name;
    END;

    CREATE TABLE user_limits (
      user         TEXT    NOT NULL PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
      up_bps       INTEGER NOT NULL DEFAULT 0 CHECK (up_bps >= 0),
      down_bps     INTEGER NOT NULL DEFAULT 0 CHECK (down_bps >= 0),
      max_sessions INTEGER NOT NULL DEFAULT 0 CHECK (max_sessions >= 0)
    ) STRICT;
  `,
  postgres: `
    CREATE TABLE hook_outbox (
      id            BIGSERIAL PRIMARY KEY,
      event         TEXT    NOT NULL,
      payload       TEXT    NOT NULL,
      created_at    TEXT    NOT NULL,
      state         TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'delivered', 'failed')),
      attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
      next_at       BIGINT  NOT NULL,
      claimed_by    TEXT,
      claimed_until BIGINT  NOT NULL DEFAULT 0,
      last_error    TEXT,
      delivered_at  TEXT
    );
    CREATE INDEX hook_outbox_due ON hook_outbox (state, next_at);

    CREATE TABLE login_history (
      id      BIGSERIAL PRIMARY KEY,
      at      TEXT NOT NULL,
      "user"  TEXT COLLATE "C" NOT NULL,
      address TEXT NOT NULL,
      method  TEXT NOT NULL,
      result  TEXT NOT NULL CHECK (result IN ('ok', 'failed', 'refused')),
      reason  TEXT NOT NULL DEFAULT '',
      client  TEXT NOT NULL DEFAULT '',
      node    TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX login_history_at ON login_history (at);
    CREATE INDEX login_history_user_at ON login_history ("user", at);

    CREATE TABLE address_rules (
      "user"   TEXT COLLATE "C" NOT NULL DEFAULT '',
      action   TEXT NOT NULL CHECK (action IN ('allow', 'deny')),
      cidr     TEXT COLLATE "C" NOT NULL,
      added_at TEXT NOT NULL,
      PRIMARY KEY ("user", action, cidr)
    );
    CREATE FUNCTION address_rules_user_deleted() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        DELETE FROM address_rules WHERE "user" = OLD.name;
        RETURN OLD;
      END
    $fn$;
    CREATE TRIGGER address_rules_user_deleted AFTER DELETE ON users
      FOR EACH ROW EXECUTE FUNCTION address_rules_user_deleted();

    CREATE TABLE user_limits (
      "user"       TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
      up_bps       BIGINT  NOT NULL DEFAULT 0 CHECK (up_bps >= 0),
      down_bps     BIGINT  NOT NULL DEFAULT 0 CHECK (down_bps >= 0),
      max_sessions INTEGER NOT NULL DEFAULT 0 CHECK (max_sessions >= 0)
    );
  `,
};
