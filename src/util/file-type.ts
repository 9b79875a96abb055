/**
 * The type of a file from the type bits of its POSIX mode (st_mode, or an
 * SFTP ATTRS' permissions, which carry them): one place for the server and
 * the client alike.
 */

/** The mask of the type bits in a mode. */
export const S_IFMT = 0o170000;

export const FileTypeBits = {
  directory: 0o040000,
  file: 0o100000,
  symlink: 0o120000,
  'char-device': 0o020000,
  'block-device': 0o060000,
  fifo: 0o010000,
  socket: 0o140000,
} as const;

export type FileType = keyof typeof FileTypeBits | 'unknown';

const BY_BITS = new Map<number, FileType>(
  (Object.entries(FileTypeBits) as Array<[FileType, number]>).map(([t, bits]) => [bits, t]),
);

/** The type of a file whose mode is `mode`; 'unknown' for type bits no file has. */
export function fileTypeOf(mode: number): FileType {
  return BY_BITS.get(mode & S_IFMT) ?? 'unknown';
}

/** True when `mode` is a directory's (undefined: not known to be one). */
export function isDirectoryMode(mode: number | undefined): boolean {
  return mode !== undefined && fileTypeOf(mode) === 'directory';
}
