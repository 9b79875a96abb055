/**
 * What the store keeps of groups, shared folders, their grants, per-path
 * permissions and who uploaded each file of a folder. Every change bumps one
 * change counter, which servers sharing the store poll to reload.
 */

export type StoredMode = 'read' | 'write' | 'upload';

export interface GroupRecord {
  readonly name: string;
  /** Sorted by name. */
  readonly members: readonly string[];
  readonly createdAt: string;
}

export interface FolderRecord {
  readonly name: string;
  /** Bytes; 0 = unlimited. */
  readonly quotaBytes: number;
  /** Files; 0 = unlimited. */
  readonly quotaFiles: number;
  /** Who pays for the files: the folder's own quota, or each uploader's. */
  readonly charge: 'folder' | 'uploader';
  /** The folder's usage as last written by the quota ledger. */
  readonly bytes: number;
  readonly files: number;
  readonly createdAt: string;
}

export interface NewFolder {
  readonly name: string;
  readonly quotaBytes: number;
  readonly quotaFiles: number;
  readonly charge: 'folder' | 'uploader';
}

/** A folder given to a user or to a group (exactly one of the two). */
export interface GrantRecord {
  readonly folder: string;
  readonly user?: string;
  readonly group?: string;
  readonly mode: StoredMode;
  /** Where it appears in the grantee's home ("/homework"). */
  readonly at: string;
}

export interface PermRecord {
  readonly user: string;
  /** A virtual path of the user's view. */
  readonly path: string;
  readonly mode: StoredMode;
}

/** Everything the access directory loads at once, with the change counter it was read at. */
export interface AccessSnapshot {
  readonly counter: number;
  readonly groups: readonly GroupRecord[];
  readonly folders: readonly FolderRecord[];
  readonly grants: readonly GrantRecord[];
  readonly perms: readonly PermRecord[];
}

export interface AccessStore {
  snapshot(): Promise<AccessSnapshot>;
  /** Bumped by every change below but the usage and the uploaders. */
  counter(): Promise<number>;

  /** Throws MiniftpError('exists') when the name is taken. */
  addGroup(name: string): Promise<void>;
  /** False when there was no such group. Its grants go with it. */
  deleteGroup(name: string): Promise<boolean>;
  /** Members already in the group are skipped; returns those added. Every user must exist. */
  addMembers(group: string, users: readonly string[]): Promise<string[]>;
  /** Returns those removed. */
  removeMembers(group: string, users: readonly string[]): Promise<string[]>;

  /** Throws MiniftpError('exists') when the name is taken. */
  addFolder(folder: NewFolder): Promise<void>;
  /** False when there was no such folder. Its grants and uploader records go with it. */
  deleteFolder(name: string): Promise<boolean>;
  setFolderQuota(name: string, quotaBytes: number, quotaFiles: number): Promise<void>;
  setFolderUsage(name: string, bytes: number, files: number): Promise<void>;

  /** Adds or replaces the grant of `folder` to its user or group. */
  grant(grant: GrantRecord): Promise<void>;
  /** False when there was no such grant. */
  revoke(folder: string, grantee: { user?: string; group?: string }): Promise<boolean>;

  /** Adds or replaces the permission of `user` at `path`. */
  setPerm(perm: PermRecord): Promise<void>;
  deletePerm(user: string, path: string): Promise<boolean>;

  uploaderOf(folder: string, path: string): Promise<string | undefined>;
  setUploader(folder: string, path: string, user: string): Promise<void>;
  /** Forgets the records at `path` and below it. */
  removeUploads(folder: string, path: string): Promise<void>;
  /** Moves the records at `from` and below it to `to`, replacing what was there. */
  moveUploads(folder: string, from: string, to: string): Promise<void>;
}
