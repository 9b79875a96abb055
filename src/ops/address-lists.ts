/**
 * Address allow and deny lists, global and per user, with CIDR ranges of IPv4 and IPv6. The
 * rules live in the store; this keeps them in memory (net.BlockList) so that a connection is
 * checked in the turn it arrives, and reloads them when the console changes them (and
 * periodically, for changes made on other nodes).
 *
 * A list refuses an address that a deny rule matches, and, when it has allow rules, one that no
 * allow rule matches. The global list is checked at the TCP accept; a user's list at login.
 */
import * as net from 'node:net';
import ipaddr from 'ipaddr.js';
import { MiniftpError } from '../errors';
import type { AddressAction, AddressRule, AddressRules } from '../store/ops-types';

/** "::ffff:10.0.0.1" is IPv4's 10.0.0.1. */
export function plainAddress(ip: string): string {
  return ipaddr.isValid(ip) ? ipaddr.process(ip).toString() : ip;
}

/**
 * A CIDR (or a single address) in its normal form, e.g. "10.1.2.3/8" → "10.0.0.0/8",
 * "2001:DB8::1" → "2001:db8::1/128". Throws MiniftpError('invalid') otherwise.
 */
export function normalizeCidr(text: string): string {
  const t = text.trim();
  const withBits = t.includes('/')
    ? t
    : ipaddr.isValid(t)
      ? `${t}/${ipaddr.parse(t).kind() === 'ipv4' ? 32 : 128}`
      : t;
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(withBits);
  } catch {
    throw MiniftpError.invalid(
      `not an address or CIDR range: '${text}' (e.g. 192.0.2.0/24, 2001:db8::/32, 198.51.100.7)`,
    );
  }
  let [addr, bits] = parsed;
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    addr = (addr as ipaddr.IPv6).toIPv4Address();
    bits -= 96;
  }
  const base =
    addr.kind() === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${addr.toString()}/${bits}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${bits}`);
  return `${base.toString()}/${bits}`;
}

class List {
  private readonly allow = new net.BlockList();
  private readonly deny = new net.BlockList();
  private allows = 0;

  add(action: AddressAction, cidr: string): void {
    const [addr = '', bits = ''] = cidr.split('/');
    const family = net.isIP(addr) === 4 ? 'ipv4' : 'ipv6';
    (action === 'allow' ? this.allow : this.deny).addSubnet(addr, Number(bits), family);
    if (action === 'allow') this.allows++;
  }

  /** Why `ip` is refused by this list, or undefined. */
  refusal(ip: string): string | undefined {
    const addr = plainAddress(ip);
    const family = net.isIP(addr);
    if (family === 0) return this.allows > 0 ? 'address not in the allow list' : undefined;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (this.deny.check(addr, type)) return 'address in the deny list';
    if (this.allows > 0 && !this.allow.check(addr, type)) return 'address not in the allow list';
    return undefined;
  }
}

export class AddressLists {
  private global = new List();
  private perUser = new Map<string, List>();
  private rules: AddressRule[] = [];

  constructor(private readonly store: AddressRules) {}

  /** Reads every rule from the store again. */
  async reload(): Promise<void> {
    const rules = await this.store.list();
    const global = new List();
    const perUser = new Map<string, List>();
    for (const r of rules) {
      let list = global;
      if (r.user !== '') {
        list = perUser.get(r.user) ?? new List();
        perUser.set(r.user, list);
      }
      list.add(r.action, r.cidr);
    }
    this.global = global;
    this.perUser = perUser;
    this.rules = rules;
  }

  /** The rules as last loaded. */
  list(): readonly AddressRule[] {
    return this.rules;
  }

  /** Why a connection from `ip` is refused by the global list, or undefined. */
  refusal(ip: string): string | undefined {
    return this.global.refusal(ip);
  }

  /** Why `user` may not log in from `ip` by its own list, or undefined. */
  userRefusal(user: string, ip: string): string | undefined {
    const why = this.perUser.get(user)?.refusal(ip);
    return why === undefined ? undefined : `${why} of this user`;
  }
}
