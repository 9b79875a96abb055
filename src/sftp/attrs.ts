/** From fs.Stats to what the wire carries: ATTRS and `ls -l` style long names. */
import type { Stats } from 'node:fs';
import type { Attrs } from './codec';
import { fileTypeOf, type FileType } from '../util/file-type';

export function attrsFromStats(st: Stats): Attrs {
  return {
    size: st.size,
    uid: st.uid,
    gid: st.gid,
    permissions: st.mode,
    atime: Math.floor(st.atimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
  };
}

const TYPE_CHAR: Record<FileType, string> = {
  directory: 'd',
  file: '-',
  symlink: 'l',
  'char-device': 'c',
  'block-device': 'b',
  fifo: 'p',
  socket: 's',
  unknown: '?',
};

export function modeString(mode: number): string {
  const t = TYPE_CHAR[fileTypeOf(mode)];
  const bit = (m: number, c: string): string => (mode & m ? c : '-');
  const special = (x: number, s: number, lower: string, upper: string): string =>
    mode & s ? (mode & x ? lower : upper) : mode & x ? 'x' : '-';
  return (
    t +
    bit(0o400, 'r') +
    bit(0o200, 'w') +
    special(0o100, 0o4000, 's', 'S') +
    bit(0o040, 'r') +
    bit(0o020, 'w') +
    special(0o010, 0o2000, 's', 'S') +
    bit(0o004, 'r') +
    bit(0o002, 'w') +
    special(0o001, 0o1000, 't', 'T')
  );
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SIX_MONTHS_MS = (365 / 2) * 86400 * 1000;

/**
 * The long name OpenSSH's `sftp` prints verbatim for `ls -l`, laid out as its
 * sftp-server does: mode, links, owner, group, size, date, name. Owner and
 * group show the MiniFTP account, never a system user.
 */
export function longName(
  name: string,
  st: Stats,
  owner: string,
  now = Date.now(),
  group = owner,
): string {
  const d = new Date(st.mtimeMs);
  const day = String(d.getDate()).padStart(2, ' ');
  const recent = Math.abs(now - st.mtimeMs) < SIX_MONTHS_MS;
  const when = recent
    ? `${MONTHS[d.getMonth()]} ${day} ${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`
    : `${MONTHS[d.getMonth()]} ${day}  ${d.getFullYear()}`;
  const who = owner.padEnd(8, ' ');
  return `${modeString(st.mode)} ${String(st.nlink).padStart(3, ' ')} ${who} ${group.padEnd(8, ' ')} ${String(st.size).padStart(8, ' ')} ${when} ${name}`;
}
