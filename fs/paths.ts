// Fully-qualified names. Every file is addressed by its path from the mount
// root ("/a/b"); a Directory row is (d_name = parent path, content = name),
// and the root itself is the row ('', '/').
import { fsError } from './errors.js';

export const NAME_MAX = 255;   // bytes in one name
export const PATH_MAX = 4096;  // bytes in one path

export interface SplitPath {
  parent: string;  // d_name
  name: string;    // content
}

/**
 * Validates and normalizes an absolute path: collapses "//" and ".",
 * resolves ".." lexically, rejects NUL (EINVAL) and over-long names or
 * paths (ENAMETOOLONG).
 */
export function normalizePath(path: string, cwd = '/'): string {
  if (path === '') throw fsError('ENOENT', path, 'empty path');
  if (path.includes('\0')) throw fsError('EINVAL', path, 'NUL in path');
  const full = path.startsWith('/') ? path : `${cwd}/${path}`;
  const parts: string[] = [];
  for (const part of full.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      parts.pop();
      continue;
    }
    if (Buffer.byteLength(part) > NAME_MAX) throw fsError('ENAMETOOLONG', path, `a name is over ${NAME_MAX} bytes`);
    parts.push(part);
  }
  const result = '/' + parts.join('/');
  if (Buffer.byteLength(result) > PATH_MAX) throw fsError('ENAMETOOLONG', path, `path is over ${PATH_MAX} bytes`);
  return result;
}

export function splitPath(path: string): SplitPath {
  if (path === '/') return { parent: '', name: '/' };
  const i = path.lastIndexOf('/');
  return { parent: i === 0 ? '/' : path.slice(0, i), name: path.slice(i + 1) };
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** True if `path` is `dir` or lies below it. */
export function isWithin(path: string, dir: string): boolean {
  return dir === '/' || path === dir || path.startsWith(dir + '/');
}

/** `path` moved from below `from` to below `to` (path must be within `from`). */
export function rebase(path: string, from: string, to: string): string {
  return path === from ? to : to + path.slice(from.length);
}

/** Every ancestor of `path`, nearest first, ending with "/". */
export function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let p = splitPath(path).parent; p !== ''; p = splitPath(p).parent) out.push(p);
  return out;
}
