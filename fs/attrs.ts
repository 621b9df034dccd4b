// What stat() returns, and how a Directory row's content_type maps to the
// file-type bits of st_mode.
import type { Timespec } from './time.js';

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
export const PERMISSION_BITS = 0o7777;

export type ContentType = 'file' | 'directory' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block';
export type Placement = 'localized' | 'parallel';

const TYPE_BITS: Record<ContentType, number> = {
  file: S_IFREG, directory: S_IFDIR, symlink: S_IFLNK, fifo: S_IFIFO, socket: S_IFSOCK, char: S_IFCHR, block: S_IFBLK,
};

export function typeBits(t: ContentType): number {
  return TYPE_BITS[t];
}

/** The content_type for the S_IFMT bits of a mode (0 means a regular file, as mknod does). */
export function contentTypeOf(mode: number): ContentType | undefined {
  const bits = mode & S_IFMT;
  if (bits === 0) return 'file';
  return (Object.keys(TYPE_BITS) as ContentType[]).find((t) => TYPE_BITS[t] === bits);
}

export interface Stat {
  /** The inode number; 0 where a listing does not know it (then d_ino is left to the kernel). */
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  rdev: number;
  blksize: number;
  blocks: number;  // 512-byte units
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
}

export function isDirectory(st: Stat): boolean {
  return (st.mode & S_IFMT) === S_IFDIR;
}

export function isRegular(st: Stat): boolean {
  return (st.mode & S_IFMT) === S_IFREG;
}

export interface DirEntry {
  name: string;
  type: ContentType;
  ino: number;
}

export interface StatFs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  namemax: number;
}
