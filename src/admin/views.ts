/** How accounts, usage and times look in the console: for people (text) and for scripts (JSON). */
import { formatSize } from '../config/size';
import type { UserRecord } from '../store/types';
import type { AdminServices } from './types';

/** "2024-05-01 13:45" in the server's local time, or "never". */
export function when(iso: string | null): string {
  if (iso === null) return 'never';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}`
  );
}

export function quotaText(bytes: number): string {
  return bytes > 0 ? formatSize(bytes) : 'unlimited';
}

export interface UserView {
  readonly name: string;
  readonly role: 'admin' | 'user';
  readonly state: 'active' | 'disabled';
  readonly quotaBytes: number;
  readonly quotaFiles: number;
  readonly usedBytes: number;
  readonly usedFiles: number;
  readonly overQuota: boolean;
  readonly createdAt: string;
  readonly lastLoginAt: string | null;
}

/** The account with its live usage (the admin account has no home, so no usage). */
export async function userView(s: AdminServices, user: UserRecord): Promise<UserView> {
  const usage = user.isAdmin ? undefined : await s.quota.get(user.name);
  const usedBytes = usage?.bytes ?? 0;
  const usedFiles = usage?.files ?? 0;
  return {
    name: user.name,
    role: user.isAdmin ? 'admin' : 'user',
    state: user.disabled ? 'disabled' : 'active',
    quotaBytes: user.quotaBytes,
    quotaFiles: user.quotaFiles,
    usedBytes,
    usedFiles,
    overQuota:
      (user.quotaBytes > 0 && usedBytes > user.quotaBytes) ||
      (user.quotaFiles > 0 && usedFiles > user.quotaFiles),
    createdAt: user.createdAt,
    lastLoginAt: user.lastLoginAt,
  };
}

/** "active", "disabled", "over quota" or "admin", for the STATE column. */
export function stateText(v: UserView): string {
  if (v.role === 'admin') return 'admin';
  if (v.state === 'disabled') return 'disabled';
  return v.overQuota ? 'over quota' : 'active';
}

export function filesText(v: UserView): string {
  return v.quotaFiles > 0 ? `${v.usedFiles} of ${v.quotaFiles}` : String(v.usedFiles);
}

/** "12.3 MiB (1%)" against the quota, or just the size when unlimited. */
export function usedText(v: UserView): string {
  const used = formatSize(v.usedBytes);
  if (v.quotaBytes <= 0) return used;
  return `${used} (${Math.floor((v.usedBytes / v.quotaBytes) * 100)}%)`;
}
