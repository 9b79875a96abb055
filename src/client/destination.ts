/** `[user@]host[:port]` as the command line and the open and bookmark commands take it. */

export class UsageError extends Error {}

export function parsePort(s: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65535) throw new UsageError(`bad port: ${s}`);
  return n;
}

/** Splits "[user@]host[:port]"; an IPv6 address takes brackets when a port follows. */
export function parseDestination(dest: string): { user?: string; host?: string; port?: number } {
  const at = dest.lastIndexOf('@');
  const user = at >= 0 ? dest.slice(0, at) : undefined;
  let rest = at >= 0 ? dest.slice(at + 1) : dest;
  let port: number | undefined;
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
  if (bracket) {
    rest = bracket[1] as string;
    if (bracket[2] !== undefined) port = parsePort(bracket[2]);
  } else if (rest.split(':').length === 2) {
    const [h, p] = rest.split(':') as [string, string];
    rest = h;
    port = parsePort(p);
  }
  if (user === '') throw new UsageError('empty user name');
  return { user, host: rest === '' ? undefined : rest, port };
}
