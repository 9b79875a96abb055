/**
 * What a user may do where: the shared folders mounted in their view and the
 * per-path permissions of their account, and the words of a refusal. Pure
 * decisions on virtual paths; user-fs.ts applies them to every request.
 *
 * Modes:
 * - `read`: list, stat, read; nothing that changes anything.
 * - `write`: everything.
 * - `upload`: a drop box. New files may be created and written (resumed,
 *   renamed, removed) by the user who uploaded them; nobody else's files are
 *   listed, read or changed, and no directory is made or removed.
 */
import { MiniftpError } from '../errors';
import type { UserQuota } from '../quota/quota-ledger';

export type AccessMode = 'read' | 'write' | 'upload';

export const ACCESS_MODES: readonly AccessMode[] = ['read', 'write', 'upload'];

export function isAccessMode(text: string): text is AccessMode {
  return (ACCESS_MODES as readonly string[]).includes(text);
}

/** A shared folder as it appears in one user's view. */
export interface FolderMount {
  /** Where it appears, a normalised virtual path ("/homework"), never "/". */
  readonly at: string;
  readonly folder: string;
  /** The folder's real directory (symlink-free, absolute). */
  readonly root: string;
  readonly mode: AccessMode;
  /** The folder's own quota, which its files are charged to; undefined: each uploader's own. */
  readonly usage: UserQuota | undefined;
}

/** A per-path permission of an account: `mode` at `path` and below. */
export interface PathRule {
  readonly path: string;
  readonly mode: AccessMode;
}

/** One user's folders and per-path permissions as they stand now. */
export interface AccessView {
  readonly mounts: readonly FolderMount[];
  readonly rules: readonly PathRule[];
}

export const EMPTY_VIEW: AccessView = { mounts: [], rules: [] };

/**
 * Who uploaded each file of the shared folders (paths below the folder's
 * root): an `upload` folder shows each user only their own. Implemented over
 * the store by src/access/.
 */
export interface FolderFiles {
  uploaderOf(folder: string, path: string): Promise<string | undefined>;
  /** `user` created the file at `path`. */
  created(folder: string, path: string, user: string): Promise<void>;
  /** The file (or directory, with what was below it) at `path` is gone. */
  removed(folder: string, path: string): Promise<void>;
  /** Moved, directories with what is below them. */
  moved(folder: string, from: string, to: string): Promise<void>;
}

/** Where a user's view comes from: asked on every request, so a change applies at once. */
export interface AccessSource {
  view(user: string): AccessView;
  readonly files: FolderFiles;
}

/** True when `p` is `base` or below it (both normalised virtual paths). */
export function within(p: string, base: string): boolean {
  return base === '/' || p === base || p.startsWith(`${base}/`);
}

/** The mount `vpath` lies in (the deepest one), or undefined for the home. */
export function mountOf(view: AccessView, vpath: string): FolderMount | undefined {
  let best: FolderMount | undefined;
  for (const m of view.mounts) {
    if (within(vpath, m.at) && (!best || m.at.length > best.at.length)) best = m;
  }
  return best;
}

/** The mode at a path and the mount or per-path permission it comes from. */
export interface Governing {
  readonly mode: AccessMode;
  /** The path of the mount or the permission; "/" when nothing is set (the home). */
  readonly at: string;
}

const FREE: Governing = { mode: 'write', at: '/' };

/**
 * The mode at `vpath`: that of the deepest per-path permission or mount
 * above it. Inside a mount that is not `write`, the mount's mode holds
 * whatever permission lies deeper: a permission never gives more than the grant.
 */
export function governing(view: AccessView, vpath: string): Governing {
  const mount = mountOf(view, vpath);
  let best: Governing = mount ? { mode: mount.mode, at: mount.at } : FREE;
  if (mount && mount.mode !== 'write') return best;
  for (const r of view.rules) {
    if (!within(vpath, r.path)) continue;
    if (mount && !within(r.path, mount.at)) continue;
    if (best === FREE || r.path.length >= best.at.length) best = { mode: r.mode, at: r.path };
  }
  return best;
}

/** The permission below `vpath` (not at it) that is not `write`, if any: what moving `vpath` would carry off. */
export function restrictedBelow(view: AccessView, vpath: string): Governing | undefined {
  const rule = view.rules.find(
    (r) => r.mode !== 'write' && r.path !== vpath && within(r.path, vpath),
  );
  return rule ? { mode: rule.mode, at: rule.path } : undefined;
}

/** What a refused request lacked, for the words of the refusal. */
export type Refused =
  'change' | 'not-yours' | 'upload-files-only' | 'folder-itself' | 'between' | 'link-out';

/** The refusal: PERMISSION_DENIED with words that say which permission is missing. */
export function denied(g: Governing, why: Refused): MiniftpError {
  const where = g.at;
  switch (why) {
    case 'change':
      return MiniftpError.accessDenied(`Permission denied: ${where} is read-only for you`);
    case 'not-yours':
      return MiniftpError.accessDenied(
        `Permission denied: ${where} is upload-only for you: only the files you uploaded can be seen or changed`,
      );
    case 'upload-files-only':
      return MiniftpError.accessDenied(
        `Permission denied: ${where} is upload-only for you: you can upload files, not make or remove directories or links`,
      );
    case 'folder-itself':
      return MiniftpError.accessDenied(
        `Permission denied: ${where} is a shared folder: it cannot be removed, renamed or changed from here`,
      );
    case 'between':
      return MiniftpError.accessDenied(
        `Permission denied: ${where} is a shared folder: files cannot be moved or linked between it and elsewhere; copy them instead`,
      );
    case 'link-out':
      return MiniftpError.accessDenied(
        `Permission denied: a symlink in ${where} cannot lead out of it`,
      );
  }
}
