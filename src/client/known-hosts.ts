/**
 * The client's known-hosts file (~/.miniftp/known_hosts by default), one
 * line per server: "host:port key-type base64-key", as OpenSSH's format
 * minus hashing and markers. A server seen for the first time is trusted on
 * the user's word (or --accept-new-host-key); a changed key is refused.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { HostKeyInfo } from './connect';

export type HostKeyStatus =
  { kind: 'known' } | { kind: 'unknown' } | { kind: 'changed'; line: number; type: string };

/** The name a server is filed under: "host:port" ("[::1]:8808" for IPv6). */
export function hostEntryName(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class KnownHosts {
  constructor(readonly file: string) {}

  private async lines(): Promise<string[]> {
    try {
      return (await fsp.readFile(this.file, 'utf8')).split('\n');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async check(name: string, info: HostKeyInfo): Promise<HostKeyStatus> {
    const key = info.key.toString('base64');
    const lines = await this.lines();
    let changed: HostKeyStatus | undefined;
    for (const [i, raw] of lines.entries()) {
      const [host, type, blob] = raw.trim().split(/\s+/);
      if (!host || host.startsWith('#') || !blob) continue;
      if (!host.split(',').includes(name)) continue;
      if (blob === key) return { kind: 'known' };
      // Another key of the same type for this server: it changed. A key of
      // another type only means the server offered a different algorithm.
      if (type === info.type) changed ??= { kind: 'changed', line: i + 1, type };
    }
    return changed ?? { kind: 'unknown' };
  }

  async add(name: string, info: HostKeyInfo): Promise<void> {
    await fsp.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    await fsp.appendFile(this.file, `${name} ${info.type} ${info.key.toString('base64')}\n`, {
      mode: 0o600,
    });
  }
}
