/** The operational tables (ops-types.ts) over better-sqlite3. */
import type { Database } from 'better-sqlite3';
import BetterSqlite3 from 'better-sqlite3';
import { MiniftpError } from '../errors';
import type {
  AddressRule,
  AddressRules,
  HookOutbox,
  HookRow,
  HookState,
  LoginHistory,
  LoginRecord,
  OpsStore,
  UserLimits,
  UserLimitsStore,
} from './ops-types';

interface HookDbRow {
  id: number;
  event: string;
  payload: string;
  created_at: string;
  state: HookState;
  attempts: number;
  next_at: number;
  claimed_by: string | null;
  claimed_until: number;
  last_error: string | null;
  delivered_at: string | null;
}

function toHook(r: HookDbRow): HookRow {
  return {
    id: r.id,
    event: r.event,
    payload: r.payload,
    createdAt: r.created_at,
    state: r.state,
    attempts: r.attempts,
    nextAt: r.next_at,
    claimedBy: r.claimed_by,
    claimedUntil: r.claimed_until,
    lastError: r.last_error,
    deliveredAt: r.delivered_at,
  };
}

class SqliteHookOutbox implements HookOutbox {
  constructor(private readonly db: Database) {}

  async add(event: string, payload: string, now: Date): Promise<number> {
    const info = this.db
      .prepare('INSERT INTO hook_outbox (event, payload, created_at, next_at) VALUES (?, ?, ?, ?)')
      .run(event, payload, now.toISOString(), now.getTime());
    return Number(info.lastInsertRowid);
  }

  async claim(node: string, now: number, leaseMs: number, limit: number): Promise<HookRow[]> {
    const rows = this.db
      .prepare(
        `UPDATE hook_outbox SET claimed_by = ?, claimed_until = ?
         WHERE id IN (SELECT id FROM hook_outbox
                      WHERE state = 'pending' AND next_at <= ? AND claimed_until < ?
                      ORDER BY id LIMIT ?)
         RETURNING *`,
      )
      .all(node, now + leaseMs, now, now, limit) as HookDbRow[];
    return rows.map(toHook).sort((a, b) => a.id - b.id);
  }

  async release(node: string): Promise<void> {
    this.db
      .prepare(
        "UPDATE hook_outbox SET claimed_until = 0 WHERE claimed_by = ? AND state = 'pending'",
      )
      .run(node);
  }

  async setPayload(id: number, node: string, payload: string): Promise<void> {
    this.db
      .prepare('UPDATE hook_outbox SET payload = ? WHERE id = ? AND claimed_by = ?')
      .run(payload, id, node);
  }

  async delivered(id: number, node: string, at: Date): Promise<void> {
    this.db
      .prepare(
        `UPDATE hook_outbox SET state = 'delivered', attempts = attempts + 1, delivered_at = ?,
           last_error = NULL, claimed_until = 0
         WHERE id = ? AND claimed_by = ? AND state = 'pending'`,
      )
      .run(at.toISOString(), id, node);
  }

  async attemptFailed(
    id: number,
    node: string,
    error: string,
    nextAt: number,
    giveUp: boolean,
  ): Promise<void> {
    this.db
      .prepare(
        `UPDATE hook_outbox SET attempts = attempts + 1, last_error = ?, next_at = ?,
           state = ?, claimed_until = 0
         WHERE id = ? AND claimed_by = ? AND state = 'pending'`,
      )
      .run(error, nextAt, giveUp ? 'failed' : 'pending', id, node);
  }

  async list(options: { state?: HookState; limit: number }): Promise<HookRow[]> {
    const rows = (
      options.state
        ? this.db
            .prepare('SELECT * FROM hook_outbox WHERE state = ? ORDER BY id DESC LIMIT ?')
            .all(options.state, options.limit)
        : this.db.prepare('SELECT * FROM hook_outbox ORDER BY id DESC LIMIT ?').all(options.limit)
    ) as HookDbRow[];
    return rows.map(toHook);
  }

  async get(id: number): Promise<HookRow | undefined> {
    const row = this.db.prepare('SELECT * FROM hook_outbox WHERE id = ?').get(id) as
      HookDbRow | undefined;
    return row ? toHook(row) : undefined;
  }

  async retry(id: number, now: number): Promise<boolean> {
    const info = this.db
      .prepare(
        `UPDATE hook_outbox SET state = 'pending', attempts = 0, next_at = ?, claimed_until = 0
         WHERE id = ? AND state IN ('pending', 'failed')`,
      )
      .run(now, id);
    return info.changes > 0;
  }

  async prune(before: Date): Promise<number> {
    return this.db
      .prepare("DELETE FROM hook_outbox WHERE state = 'delivered' AND delivered_at < ?")
      .run(before.toISOString()).changes;
  }
}

class SqliteLoginHistory implements LoginHistory {
  constructor(private readonly db: Database) {}

  async add(r: LoginRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO login_history (at, user, address, method, result, reason, client, node)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(r.at, r.user, r.address, r.method, r.result, r.reason, r.client, r.node);
  }

  async query(o: {
    user?: string;
    since?: Date;
    failedOnly?: boolean;
    limit: number;
  }): Promise<LoginRecord[]> {
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (o.user !== undefined) {
      where.push('user = ?');
      params.push(o.user);
    }
    if (o.since) {
      where.push('at >= ?');
      params.push(o.since.toISOString());
    }
    if (o.failedOnly) where.push("result <> 'ok'");
    const sql =
      'SELECT at, user, address, method, result, reason, client, node FROM login_history' +
      (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
      ' ORDER BY at DESC, id DESC LIMIT ?';
    return this.db.prepare(sql).all(...params, o.limit) as LoginRecord[];
  }

  async prune(before: Date): Promise<number> {
    return this.db.prepare('DELETE FROM login_history WHERE at < ?').run(before.toISOString())
      .changes;
  }
}

class SqliteAddressRules implements AddressRules {
  constructor(private readonly db: Database) {}

  async add(rule: Omit<AddressRule, 'addedAt'>, at: Date): Promise<boolean> {
    if (rule.user !== '' && !this.db.prepare('SELECT 1 FROM users WHERE name = ?').get(rule.user))
      throw MiniftpError.notFound(`no such user: ${rule.user}`);
    const info = this.db
      .prepare(
        'INSERT OR IGNORE INTO address_rules (user, action, cidr, added_at) VALUES (?, ?, ?, ?)',
      )
      .run(rule.user, rule.action, rule.cidr, at.toISOString());
    return info.changes > 0;
  }

  async remove(rule: Omit<AddressRule, 'addedAt'>): Promise<boolean> {
    return (
      this.db
        .prepare('DELETE FROM address_rules WHERE user = ? AND action = ? AND cidr = ?')
        .run(rule.user, rule.action, rule.cidr).changes > 0
    );
  }

  async list(): Promise<AddressRule[]> {
    return this.db
      .prepare(
        'SELECT user, action, cidr, added_at AS addedAt FROM address_rules ORDER BY user, action, cidr',
      )
      .all() as AddressRule[];
  }
}

interface LimitsRow {
  user: string;
  up_bps: number;
  down_bps: number;
  max_sessions: number;
}

function toLimits(r: LimitsRow): UserLimits {
  return { user: r.user, upBps: r.up_bps, downBps: r.down_bps, maxSessions: r.max_sessions };
}

class SqliteUserLimits implements UserLimitsStore {
  constructor(private readonly db: Database) {}

  async list(): Promise<UserLimits[]> {
    return (this.db.prepare('SELECT * FROM user_limits ORDER BY user').all() as LimitsRow[]).map(
      toLimits,
    );
  }

  async get(user: string): Promise<UserLimits> {
    const row = this.db.prepare('SELECT * FROM user_limits WHERE user = ?').get(user) as
      LimitsRow | undefined;
    return row ? toLimits(row) : { user, upBps: 0, downBps: 0, maxSessions: 0 };
  }

  async set(l: UserLimits): Promise<void> {
    try {
      this.db
        .prepare(
          `INSERT INTO user_limits (user, up_bps, down_bps, max_sessions) VALUES (?, ?, ?, ?)
           ON CONFLICT (user) DO UPDATE SET up_bps = excluded.up_bps,
             down_bps = excluded.down_bps, max_sessions = excluded.max_sessions`,
        )
        .run(l.user, l.upBps, l.downBps, l.maxSessions);
    } catch (err) {
      if (err instanceof BetterSqlite3.SqliteError && err.code === 'SQLITE_CONSTRAINT_FOREIGNKEY')
        throw MiniftpError.notFound(`no such user: ${l.user}`);
      throw err;
    }
  }
}

export function sqliteOpsStore(db: Database): OpsStore {
  return {
    hooks: new SqliteHookOutbox(db),
    logins: new SqliteLoginHistory(db),
    addresses: new SqliteAddressRules(db),
    userLimits: new SqliteUserLimits(db),
  };
}
