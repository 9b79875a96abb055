/**
 * Who the server runs as, and whether the kernel enforces file modes on it.
 *
 * Every file under the data directory belongs to the server's own uid, so the
 * owner bits a user sets (chmod 400, chmod 000) are exactly what the kernel
 * checks on each request, unless the process may bypass them: root with
 * CAP_DAC_OVERRIDE (read and write anything) or CAP_DAC_READ_SEARCH (read
 * and list anything). The server therefore either runs without those two
 * capabilities (launch.ts re-executes it through setpriv) or as an ordinary
 * user (`runAs`, dropped to here once the port is bound).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { MiniftpError, isErrno } from '../errors';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace NodeJS {
    interface Process {
      /** Node's process.initgroups (POSIX only), which @types/node leaves out. */
      initgroups?: (user: string | number, extraGroup: string | number) => void;
    }
  }
}

/** Capability numbers of linux/capability.h. */
export const CAP_DAC_OVERRIDE = 1;
export const CAP_DAC_READ_SEARCH = 2;
export const CAP_SETPCAP = 8;

/** The effective capabilities of this process; undefined where /proc does not say (not Linux). */
export function effectiveCapabilities(status?: string): bigint | undefined {
  let text = status;
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/self/status', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(text);
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

export function hasCapability(caps: bigint, cap: number): boolean {
  return ((caps >> BigInt(cap)) & 1n) === 1n;
}

/** True when the process may read, write or list files whatever their modes. */
export function bypassesModes(caps: bigint | undefined): boolean {
  return (
    caps !== undefined &&
    (hasCapability(caps, CAP_DAC_OVERRIDE) || hasCapability(caps, CAP_DAC_READ_SEARCH))
  );
}

export interface SystemUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** One line of passwd(5): name:password:uid:gid:gecos:home:shell. */
function parsePasswd(line: string): SystemUser | undefined {
  const f = line.split(':');
  if (f.length < 7) return undefined;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!f[0] || !Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
  return { name: f[0], uid, gid };
}

/**
 * The system user `spec` names (a name or a numeric uid), through the system's
 * own lookup (`getent`, so NSS users count), or /etc/passwd where there is no getent.
 */
export function lookupUser(spec: string): SystemUser {
  const unknown = (): MiniftpError =>
    MiniftpError.invalid(`runAs: there is no user '${spec}' on this system`);
  if (spec === '' || spec.startsWith('-') || /[\s:\0]/.test(spec)) throw unknown();
  let lines: string[];
  try {
    lines = execFileSync('getent', ['passwd', '--', spec], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).split('\n');
  } catch (err) {
    // getent exits 2 for a key it does not know.
    if (!isErrno(err) || err.code !== 'ENOENT') throw unknown();
    const all = fs.readFileSync('/etc/passwd', 'utf8').split('\n');
    lines = all.filter((l) => {
      const u = parsePasswd(l);
      return u !== undefined && (u.name === spec || String(u.uid) === spec);
    });
  }
  const user = lines.map(parsePasswd).find((u) => u !== undefined);
  if (!user) throw unknown();
  return user;
}

/**
 * Checks that `runAs` can be switched to from here: root may become anyone
 * but root itself (who would still bypass file modes); anyone else only
 * themselves.
 */
export function checkRunAs(user: SystemUser): void {
  if (user.uid === 0) {
    throw MiniftpError.invalid(
      `runAs: '${user.name}' is uid 0, which reads and writes files whatever their modes; name an unprivileged user`,
    );
  }
  const uid = process.geteuid?.();
  if (uid !== undefined && uid !== 0 && uid !== user.uid) {
    throw MiniftpError.invalid(
      `runAs: only root can switch to '${user.name}'; this server runs as uid ${uid}`,
    );
  }
}

/** Entries of the data directory the server itself creates and writes to. */
const OWN_ENTRIES = [
  'miniftp.db',
  'miniftp.db-wal',
  'miniftp.db-shm',
  'miniftp.db-journal',
  'docs',
  'folders',
  'log',
];

/**
 * Makes the data directory ready for `user` while still root: a missing one is
 * created and given to the user; an existing one (with its database, logs and
 * homes) must already belong to the user, or the start is refused with the
 * command that fixes it.
 */
export async function prepareDataDir(dir: string, user: SystemUser): Promise<void> {
  const st = await fsp.stat(dir).catch((err: unknown) => {
    if (isErrno(err) && err.code === 'ENOENT') return undefined;
    throw err;
  });
  // Something else in the way: the usual start-up steps name it.
  if (st && !st.isDirectory()) return;
  if (!st) {
    // The directories made here, from the top: each becomes the user's.
    const made: string[] = [];
    for (let d = dir; !fs.existsSync(d); d = path.dirname(d)) made.unshift(d);
    for (const d of made) {
      await fsp.mkdir(d, { mode: 0o700 }).catch((err: unknown) => {
        if (!isErrno(err) || err.code !== 'EEXIST') throw err;
      });
      await fsp.lchown(d, user.uid, user.gid);
    }
    return;
  }
  const owned: string[] = ['.', ...OWN_ENTRIES];
  for (const sub of ['docs', 'folders', 'log']) {
    const names = await fsp.readdir(path.join(dir, sub)).catch(() => [] as string[]);
    owned.push(...names.map((n) => path.join(sub, n)));
  }
  for (const entry of owned) {
    // The directory itself may be a symlink to where the data lives.
    const full = path.join(dir, entry);
    const found = await (entry === '.' ? fsp.stat(full) : fsp.lstat(full)).catch(() => undefined);
    if (found && found.uid !== user.uid) {
      const what = entry === '.' ? 'it' : `its ${entry}`;
      throw MiniftpError.invalid(
        `cannot use dataDir '${dir}' as user ${user.name}: ${what} belongs to uid ${found.uid}; ` +
          `give it to the user first (chown -R ${user.name}: '${dir}')`,
      );
    }
  }
}

/**
 * Becomes `user` for good: supplementary groups, group, then user (which also
 * clears every capability). Checked afterwards: root cannot be taken back.
 */
export function dropPrivileges(user: SystemUser): void {
  if (process.geteuid?.() === user.uid && process.getuid?.() === user.uid) return;
  if (!process.initgroups || !process.setgid || !process.setuid) {
    throw MiniftpError.invalid('runAs is not supported on this system');
  }
  process.initgroups(user.name, user.gid);
  process.setgid(user.gid);
  process.setuid(user.uid);
  let regained = false;
  try {
    process.setuid(0);
    regained = true;
  } catch {
    // EPERM: as it should be.
  }
  if (regained || process.geteuid?.() !== user.uid) {
    throw MiniftpError.failure(`could not switch to user ${user.name}`);
  }
}
