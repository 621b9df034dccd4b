// Permission checks for programs that use the shim as a library. Through FUSE
// the kernel checks every path component itself (default_permissions), so the
// adapter turns these off. The library checks the entry and its parent only:
// checking every ancestor would be the directory walk that fully-qualified
// names exist to avoid.
import { fsError } from './errors.js';

export interface Caller {
  uid: number;
  gid: number;
  /** Supplementary groups. */
  groups?: number[];
}

export const R_OK = 4;
export const W_OK = 2;
export const X_OK = 1;

export interface Owned {
  path: string;
  uid: number;
  gid: number;
  perm: number;
}

export function processCaller(): Caller {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, groups: process.getgroups?.() ?? [] };
}

function inGroup(c: Caller, gid: number): boolean {
  return c.gid === gid || (c.groups ?? []).includes(gid);
}

/** Throws EACCES unless `caller` may read/write/search `target` as `want` asks. */
export function requireAccess(target: Owned, c: Caller, want: number): void {
  if (c.uid === 0) return;
  const bits = c.uid === target.uid ? (target.perm >> 6) & 7 : inGroup(c, target.gid) ? (target.perm >> 3) & 7 : target.perm & 7;
  if ((bits & want) !== want) throw fsError('EACCES', target.path);
}

/** The sticky bit: in such a directory only the owner of a name (or of the directory) may remove it. */
export function requireMayRemove(dir: Owned, victim: Owned, c: Caller): void {
  requireAccess(dir, c, W_OK | X_OK);
  if ((dir.perm & 0o1000) && c.uid !== 0 && c.uid !== victim.uid && c.uid !== dir.uid) throw fsError('EACCES', victim.path);
}

export function requireOwner(target: Owned, c: Caller): void {
  if (c.uid !== 0 && c.uid !== target.uid) throw fsError('EPERM', target.path);
}

export function mayChangeGroup(c: Caller, gid: number): boolean {
  return c.uid === 0 || inGroup(c, gid);
}
