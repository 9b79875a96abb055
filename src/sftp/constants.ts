/** SFTP version 3 (draft-ietf-secsh-filexfer-02) numbers, shared by server and client. */

export const SFTP_VERSION = 3;

export const PacketType = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;
export type PacketTypeCode = (typeof PacketType)[keyof typeof PacketType];

export const Status = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;
export type StatusCode = (typeof Status)[keyof typeof Status];

export const OpenFlag = {
  READ: 0x01,
  WRITE: 0x02,
  APPEND: 0x04,
  CREAT: 0x08,
  TRUNC: 0x10,
  EXCL: 0x20,
} as const;

export const AttrFlag = {
  SIZE: 0x01,
  UIDGID: 0x02,
  PERMISSIONS: 0x04,
  ACMODTIME: 0x08,
  EXTENDED: 0x80000000,
} as const;

/** statvfs@openssh.com f_flag bits. */
export const StatvfsFlag = { RDONLY: 0x1, NOSUID: 0x2 } as const;

/**
 * OpenSSH's sftp-server limits (SFTP_MAX_MSG_LENGTH is 256 KiB); clients that read
 * limits@openssh.com size their requests from these.
 */
export const DEFAULT_MAX_PACKET = 256 * 1024 + 1024;

/** Names of the extensions MiniFTP implements, as advertised in VERSION. */
export const Ext = {
  POSIX_RENAME: 'posix-rename@openssh.com',
  STATVFS: 'statvfs@openssh.com',
  FSTATVFS: 'fstatvfs@openssh.com',
  HARDLINK: 'hardlink@openssh.com',
  FSYNC: 'fsync@openssh.com',
  LSETSTAT: 'lsetstat@openssh.com',
  LIMITS: 'limits@openssh.com',
  EXPAND_PATH: 'expand-path@openssh.com',
  USERS_GROUPS_BY_ID: 'users-groups-by-id@openssh.com',
  HOME_DIRECTORY: 'home-directory',
  COPY_DATA: 'copy-data',
  CHECK_FILE: 'check-file',
  CHECK_FILE_NAME: 'check-file-name',
  CHECK_FILE_HANDLE: 'check-file-handle',
  RESUME_UPLOAD: 'resume-upload@miniftp',
} as const;
