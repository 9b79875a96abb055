/** Directory listings of both sides in one shape, sorted as the panes and `ls` show them. */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Attrs } from '../sftp/codec';
import { fileTypeOf } from '../util/file-type';
import type { SftpChannel } from './sftp-channel';

export interface FileEntry {
  name: string;
  isDir: boolean;
  size: number;
  mtime: Date | undefined;
  /** A symbolic link; isDir/size describe its target when that could be read. */
  isLink: boolean;
  /** A MiniFTP shared folder, and what its grant allows: read, write or upload. */
  shared?: string;
}

/**
 * The mode of a shared folder from a READDIR long name: MiniFTP puts
 * "shared:MODE" in its group column. Undefined for anything else.
 */
export function sharedMode(longname: string): string | undefined {
  const group = longname.split(/\s+/)[3] ?? '';
  return /^shared:(read|write|upload)$/.exec(group)?.[1];
}

export function isDirAttrs(a: Attrs): boolean {
  return a.permissions !== undefined && fileTypeOf(a.permissions) === 'directory';
}

/** Folders first, then by name (natural order: file2 before file10). */
export function sortEntries(entries: FileEntry[]): FileEntry[] {
  return entries.sort((a, b) => {
    if (a.isDir !== b.isDir) return a.isDir ? -1 : 1;
    return a.name.localeCompare(b.name, undefined, { numeric: true });
  });
}

export async function listLocal(dir: string): Promise<FileEntry[]> {
  const dirents = await fsp.readdir(dir, { withFileTypes: true });
  const entries = await Promise.all(
    dirents.map(async (d): Promise<FileEntry> => {
      const full = path.join(dir, d.name);
      const isLink = d.isSymbolicLink();
      try {
        const st = await fsp.stat(full);
        return { name: d.name, isDir: st.isDirectory(), size: st.size, mtime: st.mtime, isLink };
      } catch {
        // A dangling link or a file that vanished meanwhile: still list the name.
        return { name: d.name, isDir: d.isDirectory(), size: 0, mtime: undefined, isLink };
      }
    }),
  );
  return sortEntries(entries);
}

export async function listRemote(sftp: SftpChannel, dir: string): Promise<FileEntry[]> {
  const raw = await sftp.list(dir);
  const entries = await Promise.all(
    raw.map(async (e): Promise<FileEntry> => {
      let attrs = e.attrs;
      const isLink = attrs.permissions !== undefined && fileTypeOf(attrs.permissions) === 'symlink';
      if (isLink) {
        // READDIR describes the link itself; the pane shows what it points at.
        attrs = await sftp.stat(path.posix.join(dir, e.filename)).catch(() => attrs);
      }
      return {
        name: e.filename,
        isDir: isDirAttrs(attrs),
        size: attrs.size ?? 0,
        mtime: attrs.mtime !== undefined ? new Date(attrs.mtime * 1000) : undefined,
        isLink,
        ...(sharedMode(e.longname) !== undefined ? { shared: sharedMode(e.longname) } : {}),
      };
    }),
  );
  return sortEntries(entries);
}
