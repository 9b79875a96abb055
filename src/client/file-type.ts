/**
 * The file type in an SFTP permissions field (its S_IFMT bits). When the
 * shared codec constants gain the same function, this file becomes one
 * re-export of it.
 */
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

export function fileTypeOf(mode: number): 'file' | 'dir' | 'link' | 'other' {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return 'file';
    case S_IFDIR:
      return 'dir';
    case S_IFLNK:
      return 'link';
    default:
      return 'other';
  }
}
