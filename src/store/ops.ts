/** The operational tables (ops-types.ts) over `Sql`, for SQLite and PostgreSQL alike. */
import { MiniftpError } from '../errors';
import { noSuchUser, translate, type Sql, type SqlValue } from './engine/sql';
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
  id: number | string;
  event: string;
  payload: string;
  created_at: string;
  state: HookState;
  attempts: number | string;
  next_at: number | string;
  claimed_by: string | null;
  claimed_until: number | string;
  last_error: string | null;
  delivered_at: string | null;
}

/** PostgreSQL returns BIGINT as text: every number goes through Number(). */
function toHook(r: HookDbRow): HookRow {
  return {
    id: Number(r.id),
    event: r.event,
    payload: r.payload,
    createdAt: r.created_at,
    state: r.state,
    attempts: Number(r.attempts),
    nextAt: Number(r.next_at),
    claimedBy: r.claimed_by,
    claimedUntil: Number(r.claimed_until),
    lastError: r.last_error,
    deliveredAt: r.delivered_at,
  };
}

class SqlHookOutbox implements HookOutbox {
  constructor(private readonly sql: Sql) {}

  async add(event: string, payload: string, now: Date): Promise<number> {
    const row = await this.sql.get<{ id: number | string }>(
      'INSERT INTO hook_outbox (event, payload, created_at, next_at) VALUES ($1, $2, $3, $4) RETURNING id',
      [event, payload, now.toISOString(), now.getTime()],
    );
    if (!row) throw MiniftpError.failure('the hook event was not stored');
    return Number(row.id);
  }

  async claim(node: string, now: number, leaseMs: number, limit: number): Promise<HookRow[]> {
    // The conditions are repeated outside the subquery: a row another node claimed meanwhile
    // fails them when PostgreSQL checks the locked row again, and is not claimed twice.
    const skip = this.sql.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
    const rows = await this.sql.all<HookDbRow>(
      `UPDATE hook_outbox SET claimed_by = $1, claimed_until = $2
       WHERE state = 'pending' AND next_at <= $3 AND claimed_until < $3
         AND id IN (SELECT id FROM hook_outbox
                    WHERE state = 'pending' AND next_at <= $3 AND claimed_until < $3
                    ORDER BY id LIMIT $4 ${skip})
       RETURNING *`,
      [node, now + leaseMs, now, limit],
    );
    return rows.map(toHook).sort((a, b) => a.id - b.id);
  }

  async release(node: string): Promise<void> {
    await this.sql.run(
      "UPDATE hook_outbox SET claimed_until = 0 WHERE claimed_by = $1 AND state = 'pending'",
      [node],
    );
  }

  async setPayload(id: number, node: string, payload: string): Promise<void> {
    await this.sql.run('UPDATE hook_outbox SET payload = $1 WHERE id = $2 AND claimed_by = $3', [
      payload,
      id,
      node,
    ]);
  }

  async delivered(id: number, node: string, at: Date): Promise<void> {
    await this.sql.run(
      `UPDATE hook_outbox SET state = 'delivered', attempts = attempts + 1, delivered_at = $1,
         last_error = NULL, claimed_until = 0
       WHERE id = $2 AND claimed_by = $3 AND state = 'pending'`,
      [at.toISOString(), id, node],
    );
  }

  async attemptFailed(
    id: number,
    node: string,
    error: string,
    nextAt: number,
    giveUp: boolean,
  ): Promise<void> {
    await this.sql.run(
      `UPDATE hook_outbox SET attempts = attempts + 1, last_error = $1, next_at = $2,
         state = $3, claimed_until = 0
       WHERE id = $4 AND claimed_by = $5 AND state = 'pending'`,
      [error, nextAt, giveUp ? 'failed' : 'pending', id, node],
    );
  }

  async list(options: { state?: HookState; limit: number }): Promise<HookRow[]> {
    const rows = options.state
      ? await this.sql.all<HookDbRow>(
          'SELECT * FROM hook_outbox WHERE state = $1 ORDER BY id DESC LIMIT $2',
          [options.state, options.limit],
        )
      : await this.sql.all<HookDbRow>('SELECT * FROM hook_outbox ORDER BY id DESC LIMIT $1', [
          options.limit,
        ]);
    return rows.map(toHook);
  }

  async get(id: number): Promise<HookRow | undefined> {
    const row = await this.sql.get<HookDbRow>('SELECT * FROM hook_outbox WHERE id = $1', [id]);
    return row ? toHook(row) : undefined;
  }

  async retry(id: number, now: number): Promise<boolean> {
    const changed = await this.sql.run(
      `UPDATE hook_outbox SET state = 'pending', attempts = 0, next_at = $1, claimed_until = 0
       WHERE id = $2 AND state IN ('pending', 'failed')`,
      [now, id],
    );
    return changed > 0;
  }

  async prune(before: Date): Promise<number> {
    return this.sql.run("DELETE FROM hook_outbox WHERE state = 'delivered' AND delivered_at < $1", [
      before.toISOString(),
    ]);
  }
}

class SqlLoginHistory implements LoginHistory {
  constructor(private readonly sql: Sql) {}

  async add(r: LoginRecord): Promise<void> {
    await this.sql.run(
      `INSERT INTO login_history (at, "user", address, method, result, reason, client, node)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [r.at, r.user, r.address, r.method, r.result, r.reason, r.client, r.node],
    );
  }

  async query(o: {
    user?: string;
    since?: Date;
    failedOnly?: boolean;
    limit: number;
  }): Promise<LoginRecord[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (o.user !== undefined) {
      params.push(o.user);
      where.push(`"user" = $${params.length}`);
    }
    if (o.since) {
      params.push(o.since.toISOString());
      where.push(`at >= $${params.length}`);
    }
    if (o.failedOnly) where.push("result <> 'ok'");
    params.push(o.limit);
    return this.sql.all<LoginRecord>(
      'SELECT at, "user", address, method, result, reason, client, node FROM login_history' +
        (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
        ` ORDER BY at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
  }

  async prune(before: Date): Promise<number> {
    return this.sql.run('DELETE FROM login_history WHERE at < $1', [before.toISOString()]);
  }
}

class SqlAddressRules implements AddressRules {
  constructor(private readonly sql: Sql) {}

  async add(rule: Omit<AddressRule, 'addedAt'>, at: Date): Promise<boolean> {
    if (
      rule.user !== '' &&
      !(await this.sql.get('SELECT 1 AS one FROM users WHERE name = $1', [rule.user]))
    )
      throw noSuchUser(rule.user);
    const changed = await this.sql.run(
      `INSERT INTO address_rules ("user", action, cidr, added_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT ("user", action, cidr) DO NOTHING`,
      [rule.user, rule.action, rule.cidr, at.toISOString()],
    );
    return changed > 0;
  }

  async remove(rule: Omit<AddressRule, 'addedAt'>): Promise<boolean> {
    const changed = await this.sql.run(
      'DELETE FROM address_rules WHERE "user" = $1 AND action = $2 AND cidr = $3',
      [rule.user, rule.action, rule.cidr],
    );
    return changed > 0;
  }

  async list(): Promise<AddressRule[]> {
    return this.sql.all<AddressRule>(
      'SELECT "user", action, cidr, added_at AS "addedAt" FROM address_rules ORDER BY "user", action, cidr',
    );
  }
}

interface LimitsRow {
  user: string;
  up_bps: number | string;
  down_bps: number | string;
  max_sessions: number | string;
}

function toLimits(r: LimitsRow): UserLimits {
  return {
    user: r.user,
    upBps: Number(r.up_bps),
    downBps: Number(r.down_bps),
    maxSessions: Number(r.max_sessions),
  };
}

class SqlUserLimits implements UserLimitsStore {
  constructor(private readonly sql: Sql) {}

  async list(): Promise<UserLimits[]> {
    const rows = await this.sql.all<LimitsRow>('SELECT * FROM user_limits ORDER BY "user"');
    return rows.map(toLimits);
  }

  async get(user: string): Promise<UserLimits> {
    const row = await this.sql.get<LimitsRow>('SELECT * FROM user_limits WHERE "user" = $1', [
      user,
    ]);
    return row ? toLimits(row) : { user, upBps: 0, downBps: 0, maxSessions: 0 };
  }

  async set(l: UserLimits): Promise<void> {
    try {
      await this.sql.run(
        `INSERT INTO user_limits ("user", up_bps, down_bps, max_sessions) VALUES ($1, $2, $3, $4)
         ON CONFLICT ("user") DO UPDATE SET up_bps = excluded.up_bps,
           down_bps = excluded.down_bps, max_sessions = excluded.max_sessions`,
        [l.user, l.upBps, l.downBps, l.maxSessions],
      );
    } catch (err) {
      throw translate(this.sql, err, { foreignKey: () => noSuchUser(l.user) });
    }
  }
}

export function sqlOpsStore(sql: Sql): OpsStore {
  return {
    hooks: new SqlHookOutbox(sql),
    logins: new SqlLoginHistory(sql),
    addresses: new SqlAddressRules(sql),
    userLimits: new SqlUserLimits(sql),
  };
}
