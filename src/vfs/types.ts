/** The shapes vfs's callers speak in: what to open, attributes to set, a filesystem's figures. */

export interface OpenRequest {
  read: boolean;
  write: boolean;
  append: boolean;
  create: boolean;
  truncate: boolean;
  exclusive: boolean;
  /** Permissions for a new file (type bits and setuid/setgid/sticky are dropped). */
  mode?: number;
}

/**
 * Attributes to give a file (SETSTAT, MKDIR…), each optional. vfs's own type:
 * the protocol's ATTRS (src/sftp/codec.ts) has these fields and more, and is
 * accepted where this is asked for.
 */
export interface FileAttrs {
  size?: number;
  uid?: number;
  gid?: number;
  /** Mode bits; only the permission bits are applied. */
  permissions?: number;
  /** Seconds since the epoch; applied only together with `mtime`. */
  atime?: number;
  mtime?: number;
}

export interface StatvfsInfo {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  fsid: number;
  flag: number;
  namemax: number;
}
