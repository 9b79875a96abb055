/**
 * Saved hosts: `miniftp NAME` and `open NAME` connect to what `bookmark add`
 * saved under NAME. The file is $XDG_CONFIG_HOME/miniftp/hosts.json
 * (~/.config/miniftp/hosts.json without it), readable by its owner only
 * (0600, its folder 0700), and holds no password:
 *
 *   { "hosts": { "work": { "host": "sftp.example.org", "port": 8808,
 *                          "user": "ana", "identity": "/home/ana/.ssh/id_ed25519",
 *                          "parallel": 2 } } }
 *
 * It is written whole to a temporary file and renamed over the old one, so
 * a crash never leaves half a file.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClientError } from './errors';

export interface Bookmark {
  host: string;
  port: number;
  user: string;
  /** A private key file to log in with. */
  identity?: string;
  /** Transfers run at once when the client starts with this bookmark (as --parallel). */
  parallel?: number;
}

/** Letters, digits, "-", "_" and "."; not a host name with a port or a user. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function bookmarksFile(env: NodeJS.ProcessEnv): string {
  const base =
    env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME)
      ? env.XDG_CONFIG_HOME
      : path.join(env.HOME ?? os.homedir(), '.config');
  return path.join(base, 'miniftp', 'hosts.json');
}

function isBookmark(v: unknown): v is Bookmark {
  if (typeof v !== 'object' || v === null) return false;
  const b = v as Record<string, unknown>;
  return (
    typeof b.host === 'string' &&
    typeof b.user === 'string' &&
    typeof b.port === 'number' &&
    Number.isInteger(b.port) &&
    b.port >= 1 &&
    b.port <= 65535 &&
    (b.identity === undefined || typeof b.identity === 'string') &&
    (b.parallel === undefined ||
      (typeof b.parallel === 'number' && Number.isInteger(b.parallel) && b.parallel >= 1))
  );
}

export class Bookmarks {
  constructor(readonly file: string) {}

  /** Every saved host by name; an absent file is an empty list, a broken one an error. */
  async load(): Promise<Map<string, Bookmark>> {
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw new ClientError(`cannot read the bookmarks ${this.file}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ClientError(
        `the bookmarks file ${this.file} is not JSON: ${(err as Error).message}`,
      );
    }
    const hosts = (parsed as { hosts?: unknown } | null)?.hosts;
    if (typeof hosts !== 'object' || hosts === null) {
      throw new ClientError(`the bookmarks file ${this.file} has no "hosts" object`);
    }
    const out = new Map<string, Bookmark>();
    for (const [name, value] of Object.entries(hosts)) {
      if (!isBookmark(value)) {
        throw new ClientError(
          `the bookmark ${name} in ${this.file} needs host, port and user ` +
            '(and a whole number from 1 as parallel, when it has one)',
        );
      }
      out.set(name, value);
    }
    return out;
  }

  async get(name: string): Promise<Bookmark | undefined> {
    return (await this.load()).get(name);
  }

  /** Saves (or replaces) one bookmark. */
  async add(name: string, b: Bookmark): Promise<void> {
    if (!NAME.test(name)) {
      throw new ClientError(
        `bad bookmark name ${name}: letters, digits, ".", "-" and "_" only, at most 64`,
      );
    }
    const all = await this.load();
    all.set(name, b);
    await this.save(all);
  }

  /** Deletes one bookmark; false when there was none of that name. */
  async delete(name: string): Promise<boolean> {
    const all = await this.load();
    if (!all.delete(name)) return false;
    await this.save(all);
    return true;
  }

  private async save(all: Map<string, Bookmark>): Promise<void> {
    const dir = path.dirname(this.file);
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const hosts = Object.fromEntries([...all].sort(([a], [b]) => a.localeCompare(b)));
    const tmp = `${this.file}.${process.pid}.tmp`;
    await fsp.writeFile(tmp, `${JSON.stringify({ hosts }, null, 2)}\n`, { mode: 0o600 });
    await fsp.chmod(tmp, 0o600);
    await fsp.rename(tmp, this.file);
  }
}

/** One line a bookmark: `work  ana@sftp.example.org:8808  key ~/.ssh/id_ed25519`. */
export function describeBookmarks(all: Map<string, Bookmark>): string {
  if (all.size === 0) return '(no bookmarks)';
  const width = Math.max(...[...all.keys()].map((n) => n.length)) + 2;
  return [...all]
    .map(([name, b]) => {
      const key = b.identity ? `  key ${b.identity}` : '';
      const parallel = b.parallel !== undefined ? `  parallel ${b.parallel}` : '';
      return `${name.padEnd(width)}${b.user}@${b.host}:${b.port}${key}${parallel}`;
    })
    .join('\n');
}
