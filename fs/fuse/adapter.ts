// The FUSE adapter: translates kernel requests (as native.ts delivers them, by path)
// into shim calls and shim results into FUSE replies. No filesystem semantics
// live here; an FsError becomes its negative errno.
import { constants as fsc } from 'node:fs';
import type { Logger } from '../../schema/log.js';
import { S_IFDIR, typeBits, type Stat } from '../attrs.js';
import type { Caller, DbosFs } from '../dbosfs.js';
import { toFsError } from '../errors.js';
import { MailboxFiles } from '../../ipc/mailbox-files.js';
import { KEEP_CACHE_HANDLE, type CallerContext, type FuseOps, type TimeArg } from './native.js';

type Cb = (...args: any[]) => void;

/**
 * `mailboxes` (optional) serves MOUNT/.ipc: paths below it and handles it
 * gave out go there, everything else to the shim.
 */
export function fuseOps(fs: DbosFs, caller: () => CallerContext, log: Logger, mailboxes?: MailboxFiles): FuseOps {
  const who = (): Caller => {
    const c = caller();
    return { uid: c.uid, gid: c.gid };
  };

  /** Replies cb(0, value) or cb(-errno). */
  const reply = <T>(cb: Cb, work: Promise<T>, map: (v: T) => unknown[] = (v) => [v]) => {
    work.then((v) => cb(0, ...map(v)), (e) => cb(-fail(e)));
  };
  /** read and write reply with the byte count in place of the error. */
  const replyCount = (cb: Cb, work: Promise<number>) => {
    work.then((n) => cb(n), (e) => cb(-fail(e)));
  };
  const fail = (e: unknown): number => {
    const err = toFsError(e, undefined, (x) => log.error({ err: x }, 'unexpected error'));
    if (err.code === 'EIO') log.warn({ err: err.message }, 'operation failed with EIO');
    return err.errno;
  };

  const dirStat = (type: Parameters<typeof typeBits>[0], ino: number): Stat => ({
    ino, mode: typeBits(type), uid: 0, gid: 0, size: 0, nlink: 1, rdev: 0, blksize: 4096, blocks: 0,
    atime: { sec: 0, nsec: 0 }, mtime: { sec: 0, nsec: 0 }, ctime: { sec: 0, nsec: 0 },
  });

  const box = (path: string) => mailboxes !== undefined && MailboxFiles.owns(path);
  const boxFd = (fd: number) => mailboxes !== undefined && MailboxFiles.isHandle(fd);
  const refused = (path: string, cb: Cb) => cb(-MailboxFiles.refuse(path).errno);

  const ops: FuseOps = {
    init: (cb: Cb) => cb(0),
    getattr: (path: string, cb: Cb) => reply(cb, fs.getattr(path)),
    fgetattr: (path: string, _fd: number, cb: Cb) => reply(cb, fs.getattr(path)),
    readdir: (path: string, cb: Cb) => {
      const c = who();
      reply(cb, fs.readdir(path, c), (entries) => {
        const names = ['.', '..', ...entries.map((e) => e.name)];
        // Only the type bits and the inode number matter here: they become
        // d_type and d_ino for find and ls ("." and ".." leave d_ino unknown).
        const stats = [{ ...dirStat('directory', 0), mode: S_IFDIR }, { ...dirStat('directory', 0), mode: S_IFDIR }, ...entries.map((e) => dirStat(e.type, e.ino))];
        return [names, stats];
      });
    },
    statfs: (path: string, cb: Cb) => reply(cb, fs.statfs(path)),
    mkdir: (path: string, mode: number, cb: Cb) => { const c = who(); reply(cb, fs.mkdir(path, mode, c), () => []); },
    rmdir: (path: string, cb: Cb) => { const c = who(); reply(cb, fs.rmdir(path, c), () => []); },
    mknod: (path: string, mode: number, dev: number, cb: Cb) => { const c = who(); reply(cb, fs.mknod(path, mode, dev, c), () => []); },
    create: (path: string, mode: number, flags: number, cb: Cb) => {
      const c = who();
      // The attributes fgetattr would answer next; without them the binding asks fgetattr.
      const created = fs.create(path, mode, flags | fsc.O_CREAT, c).then(async (fd) => ({ fd, st: await fs.getattr(path).catch(() => undefined) }));
      reply(cb, created, ({ fd, st }) => [fd, st]);
    },
    open: (path: string, flags: number, cb: Cb) => {
      const c = who();
      reply(cb, fs.open(path, flags & ~fsc.O_CREAT, 0, c).then((fd) => (fs.clientCacheValid(fd) ? fd | KEEP_CACHE_HANDLE : fd)));
    },
    read: (_path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) =>
      replyCount(cb, fs.readInto(fd, buf.subarray(0, len), pos)),
    write: (_path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) =>
      replyCount(cb, fs.write(fd, buf.subarray(0, len), pos)),
    // A write the binding has already answered (see native.ts).
    writeQueued: (_path: string, fd: number, buf: Buffer, len: number, pos: number, applied: Cb) =>
      void fs.writeBehind(fd, buf.subarray(0, len), pos).then(applied),
    flush: (_path: string, fd: number, cb: Cb) => reply(cb, fs.flush(fd), () => []),
    fsync: (_path: string, _datasync: boolean, fd: number, cb: Cb) => reply(cb, fs.fsync(fd), () => []),
    fsyncdir: (path: string, _datasync: boolean, _fd: number, cb: Cb) => reply(cb, fs.fsyncdir(path), () => []),
    release: (_path: string, fd: number, cb: Cb) => reply(cb, fs.release(fd), () => []),
    truncate: (path: string, size: number, cb: Cb) => { const c = who(); reply(cb, fs.truncate(path, size, c), () => []); },
    ftruncate: (_path: string, fd: number, size: number, cb: Cb) => reply(cb, fs.ftruncate(fd, size), () => []),
    unlink: (path: string, cb: Cb) => { const c = who(); reply(cb, fs.unlink(path, c), () => []); },
    rename: (src: string, dest: string, cb: Cb) => { const c = who(); reply(cb, fs.rename(src, dest, 0, c), () => []); },
    link: (src: string, dest: string, cb: Cb) => reply(cb, fs.link(src, dest), () => []),
    symlink: (target: string, path: string, cb: Cb) => { const c = who(); reply(cb, fs.symlink(target, path, c), () => []); },
    readlink: (path: string, cb: Cb) => reply(cb, fs.readlink(path)),
    chmod: (path: string, mode: number, cb: Cb) => { const c = who(); reply(cb, fs.chmod(path, mode, c), () => []); },
    chown: (path: string, uid: number, gid: number, cb: Cb) => { const c = who(); reply(cb, fs.chown(path, uid, gid, c), () => []); },
    utimens: (path: string, atime: TimeArg, mtime: TimeArg, cb: Cb) => { const c = who(); reply(cb, fs.utimens(path, atime, mtime, c), () => []); },
    getxattr: (path: string, name: string, _position: number, cb: Cb) => reply(cb, fs.getxattr(path, name)),
    setxattr: (path: string, name: string, value: Buffer, _position: number, flags: number, cb: Cb) => {
      const c = who();
      reply(cb, fs.setxattr(path, name, Buffer.from(value), flags, c), () => []);
    },
    listxattr: (path: string, cb: Cb) => reply(cb, fs.listxattr(path)),
    removexattr: (path: string, name: string, cb: Cb) => { const c = who(); reply(cb, fs.removexattr(path, name, c), () => []); },
  };
  if (!mailboxes) return ops;
  const m = mailboxes;

  // MOUNT/.ipc: the mailbox files. Every path-taking op is routed first.
  const pathOps = ['getattr', 'readdir', 'mkdir', 'rmdir', 'mknod', 'create', 'open', 'truncate', 'unlink', 'symlink',
    'readlink', 'chmod', 'chown', 'utimens', 'getxattr', 'setxattr', 'listxattr', 'removexattr', 'fsyncdir'] as const;
  const shim = { ...ops };
  for (const name of pathOps) {
    ops[name] = (path: string, ...args: unknown[]) => {
      const cb = args[args.length - 1] as Cb;
      // symlink(target, linkPath): what it creates is its second argument.
      const where = name === 'symlink' ? (args[0] as string) : path;
      if (!box(where)) return (shim[name] as (...a: unknown[]) => void)(path, ...args);
      switch (name) {
        case 'getattr': return reply(cb, m.getattr(path));
        case 'readdir': return reply(cb, m.readdir(path), (names) => [names, []]);
        case 'open': { const c = who(); return reply(cb, m.open(path, args[0] as number, c)); }
        case 'create': return cb(-(path === '/.ipc' ? MailboxFiles.refuse(path).errno : 2));
        case 'truncate': return cb(args[0] === 0 ? 0 : -22);
        case 'getxattr': return cb(-61);
        case 'listxattr': return cb(0, []);
        default: return refused(where, cb);
      }
    };
  }
  for (const name of ['rename', 'link'] as const) {
    ops[name] = (src: string, dest: string, cb: Cb) => (box(src) || box(dest) ? refused(src, cb) : shim[name]!(src, dest, cb));
  }
  // Handles the mailbox files gave out. The binding never queues their writes
  // (bit 30 of the handle), so writeQueued stays the shim's.
  ops.read = (path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) =>
    (boxFd(fd) ? replyCount(cb, m.read(fd, len).then((d) => d.copy(buf, 0, 0, d.length))) : shim.read!(path, fd, buf, len, pos, cb));
  ops.write = (path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) =>
    (boxFd(fd) ? replyCount(cb, m.write(fd, Buffer.from(buf.subarray(0, len)), pos)) : shim.write!(path, fd, buf, len, pos, cb));
  ops.flush = (path: string, fd: number, cb: Cb) => (boxFd(fd) ? reply(cb, m.flush(fd), () => []) : shim.flush!(path, fd, cb));
  ops.release = (path: string, fd: number, cb: Cb) => (boxFd(fd) ? reply(cb, m.release(fd), () => []) : shim.release!(path, fd, cb));
  ops.fsync = (path: string, datasync: boolean, fd: number, cb: Cb) => (boxFd(fd) ? cb(0) : shim.fsync!(path, datasync, fd, cb));
  ops.ftruncate = (path: string, fd: number, size: number, cb: Cb) => (boxFd(fd) ? cb(size === 0 ? 0 : -22) : shim.ftruncate!(path, fd, size, cb));
  ops.fgetattr = (path: string, fd: number, cb: Cb) => (boxFd(fd) || box(path) ? reply(cb, m.getattr(path)) : shim.fgetattr!(path, fd, cb));
  return ops;
}
