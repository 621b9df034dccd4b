// Errors at the filesystem boundary are values carrying an errno code. Anything
// else that escapes an operation (a lost database, a bug) becomes EIO, so a
// program on the mount always gets an errno and never a hang.
import { constants } from 'node:os';
import { isUnavailable } from '../schema/db.js';

export type ErrnoCode =
  | 'EPERM' | 'ENOENT' | 'EIO' | 'EBADF' | 'EACCES' | 'EBUSY' | 'EEXIST' | 'EXDEV' | 'ENOTDIR' | 'EISDIR'
  | 'EINVAL' | 'EFBIG' | 'ENOSPC' | 'ERANGE' | 'ENAMETOOLONG' | 'ENOSYS' | 'ENOTEMPTY' | 'ELOOP'
  | 'ENODATA' | 'E2BIG' | 'EOPNOTSUPP' | 'EMLINK' | 'EAGAIN';

export class FsError extends Error {
  constructor(readonly code: ErrnoCode, readonly path?: string, detail?: string) {
    // Errnos are answers, not bugs: no stack trace. Capturing one cost more
    // than the rest of the ENODATA the kernel asks for before every write.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`${code}${path !== undefined ? `: ${path}` : ''}${detail ? ` (${detail})` : ''}`);
    Error.stackTraceLimit = limit;
  }

  /** The positive errno number, as in errno.h. */
  get errno(): number {
    return constants.errno[this.code];
  }
}

export function fsError(code: ErrnoCode, path?: string, detail?: string): FsError {
  return new FsError(code, path, detail);
}

/** Maps any thrown value to an FsError; `onUnexpected` sees what became EIO. */
export function toFsError(e: unknown, path?: string, onUnexpected?: (e: unknown) => void): FsError {
  if (e instanceof FsError) return e;
  if (!isUnavailable(e)) onUnexpected?.(e);
  return new FsError('EIO', path, isUnavailable(e) ? 'database unavailable' : (e as Error)?.message);
}
