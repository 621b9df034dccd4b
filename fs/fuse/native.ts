// dbos's FUSE binding, JavaScript's half: the C half (fs/fuse/binding/,
// libfuse 2's low-level API) hands over each kernel request by node id; this
// file turns node ids into paths (nodes.ts) and calls the path operations of
// the adapter (adapter.ts), in the calling convention fuse-native's path API
// had: the last argument is a callback taking 0 or a negative errno first.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants as osc } from 'node:os';
import type { Stat, StatFs } from '../attrs.js';
import type { Timespec } from '../time.js';
import { NodeTable } from './nodes.js';

export interface CallerContext {
  uid: number;
  gid: number;
  pid: number;
}

type Cb = (...args: any[]) => void;
/** The path operations the binding calls (see adapter.ts). */
export type FuseOps = Record<string, (...args: any[]) => void> & {
  create?: (path: string, mode: number, flags: number, cb: (err: number, fd?: number, st?: Stat) => void) => void;
};

/** A handle number with this bit set tells the binding to let the kernel keep the file's page cache (keep_cache). */
export const KEEP_CACHE_HANDLE = 0x20000000;

/** An adapter's handle number as the kernel gets it: the file handle, and whether to keep the page cache. */
function opened(fd: number): { fh: number; keep: boolean } {
  return { fh: fd & ~KEEP_CACHE_HANDLE, keep: (fd & KEEP_CACHE_HANDLE) !== 0 };
}

export type TimeArg = Timespec | 'now' | 'omit';

export interface NativeMountOptions {
  allowOther: boolean;
  /** Seconds the kernel may cache attributes and names. */
  attrTimeout: number;
  entryTimeout: number;
  /** Per-request safety net (ms), longer than any database deadline. */
  timeoutMs: number;
}

interface Binding {
  mount(mountpoint: string, options: string, handler: (name?: string, name2?: string, data?: Buffer) => void, nums: Float64Array, stat: Float64Array): void;
  close(): boolean;
  replyErr(id: number, errno: number): void;
  replyEntry(id: number, node: number, attrTimeout: number, entryTimeout: number): void;
  replyAttr(id: number, attrTimeout: number): void;
  replyCreate(id: number, node: number, attrTimeout: number, entryTimeout: number, fh: number, keepCache: boolean): void;
  replyOpen(id: number, fh: number, keepCache: boolean): void;
  replyBuf(id: number, buf: Buffer, length: number): void;
  replyWrite(id: number, count: number): void;
  replyReadlink(id: number, target: string): void;
  replyStatfs(id: number, ...values: number[]): void;
  replyXattrSize(id: number, size: number): void;
  writeApplied(bytes: number): void;
}

/** The built binding: fs/fuse/binding/build/Release, found from dist/ or from the sources. */
function loadBinding(): Binding {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = dirname(dir)) {
    const file = join(dir, 'fs/fuse/binding/build/Release/dbos_fuse.node');
    if (existsSync(file)) return createRequire(import.meta.url)(file) as Binding;
  }
  throw new Error('the FUSE binding is not built: run scripts/build-fuse-binding.mjs (npm install does)');
}

// Request kinds and the layout of the numbers array, as dbos_fuse.c numbers them.
const OP = {
  LOOKUP: 0, FORGET: 1, GETATTR: 2, SETATTR: 3, READLINK: 4, MKNOD: 5, MKDIR: 6, UNLINK: 7, RMDIR: 8,
  SYMLINK: 9, RENAME: 10, LINK: 11, OPEN: 12, READ: 13, WRITE: 14, FLUSH: 15, RELEASE: 16, FSYNC: 17,
  READDIR: 18, RELEASEDIR: 19, FSYNCDIR: 20, STATFS: 21, SETXATTR: 22, GETXATTR: 23, LISTXATTR: 24,
  REMOVEXATTR: 25, CREATE: 26,
} as const;
const N = {
  ID: 0, OP: 1, INO: 2, FH: 3, UID: 4, GID: 5, PID: 6, SIZE: 7, OFF: 8, FLAGS: 9, MODE: 10, RDEV: 11, INO2: 12, TO_SET: 13,
  A_SEC: 14, A_NSEC: 15, M_SEC: 16, M_NSEC: 17, A_UID: 18, A_GID: 19, A_MODE: 20, HAS_FH: 21, COUNT: 22,
} as const;
/** The numbers of a stat handed to the binding (putStat's order, dbos_fuse.c's ST_COUNT). */
const STAT_NUMBERS = 15;
const SET = { MODE: 1, UID: 2, GID: 4, SIZE: 8, ATIME: 16, MTIME: 32, ATIME_NOW: 128, MTIME_NOW: 256 } as const;

/**
 * Requests that may wait on something other than the database's deadlines
 * (a queue of writes, a flush, a rename of a large tree, a mailbox read) have
 * no safety-net timeout.
 */
const UNTIMED = new Set<number>([OP.FORGET, OP.SETATTR, OP.UNLINK, OP.RMDIR, OP.RENAME, OP.READ, OP.WRITE, OP.FLUSH, OP.RELEASE, OP.FSYNC, OP.RELEASEDIR]);

/** libfuse's FUSE_UNKNOWN_INO, the d_ino of a listed name whose number is not given. */
const UNKNOWN_INO = 0xffffffff;
const NO_ID = 0xffffffff;

/** One kernel request waiting for its answer: answered once, by the operation or by the safety net. */
class Pending {
  done = false;
  constructor(readonly id: number, readonly deadline: number) {}
}

/** The entries of an open directory, listed at its first READDIR (and again when read from the start). */
interface Listing {
  names: string[];
  stats: Partial<Stat>[];
}

export class DbosFuse {
  /** The caller of the request being dispatched right now (valid only synchronously at the start of an op). */
  caller: CallerContext = { uid: 0, gid: 0, pid: 0 };
  readonly nodes = new NodeTable();
  private readonly binding = loadBinding();
  private readonly nums = new Float64Array(N.COUNT);
  private readonly stat = new Float64Array(STAT_NUMBERS);
  private readonly listings = new Map<number, Listing>();
  private readonly timed = new Set<Pending>();
  private sweep?: NodeJS.Timeout;

  constructor(readonly mnt: string, readonly ops: FuseOps, private readonly opts: NativeMountOptions) {}

  mount(cb: (err: Error | null) => void): void {
    try {
      this.binding.mount(this.mnt, this.mountOptions(), (name, name2, data) => this.dispatch(name, name2, data), this.nums, this.stat);
    } catch (e) {
      return cb(e as Error);
    }
    this.sweep = setInterval(() => this.timeOut(), 1000).unref();
    if (this.ops.init) this.ops.init(() => cb(null));
    else cb(null);
  }

  /**
   * Unmounts (fusermount -u, so it fails while files are open) and frees the
   * session once every request has its answer (the safety net answers the
   * timed ones; a minute on, the session is left allocated).
   */
  unmount(cb: (err: Error | null) => void): void {
    execFile('fusermount', ['-u', this.mnt], (err) => {
      if (err) return cb(err);
      const giveUp = Date.now() + 60_000;
      const closed = (): unknown => (this.close() ? cb(null)
        : Date.now() > giveUp ? cb(new Error('requests to the unmounted filesystem were never answered'))
          : setTimeout(closed, 10));
      closed();
    });
  }

  /** Frees the session once the mount is gone (however it went) and every request is answered; false until then. */
  close(): boolean {
    if (!this.binding.close()) return false;
    clearInterval(this.sweep);
    return true;
  }

  private mountOptions(): string {
    const options = ['fsname=dbos', 'subtype=dbos', 'default_permissions', 'big_writes', 'max_write=131072', 'max_read=131072'];
    if (this.opts.allowOther) options.push('allow_other');
    return options.join(',');
  }

  private timeOut(): void {
    const now = Date.now();
    for (const p of this.timed) {
      if (p.deadline > now) continue;
      this.timed.delete(p);
      p.done = true;
      this.binding.replyErr(p.id, osc.errno.ETIMEDOUT);
    }
  }

  /** Marks p answered; false if it already was (by the safety net). */
  private answer(p: Pending): boolean {
    if (p.done) return false;
    p.done = true;
    if (p.deadline) this.timed.delete(p);
    return true;
  }

  private fail(p: Pending, errno: number): void {
    if (this.answer(p)) this.binding.replyErr(p.id, errno);
  }

  /**
   * An operation's result: its error (or EIO, when it gave no value) is
   * answered here and false returned; otherwise true if the answer is still
   * this call's to give (false if the safety net gave it).
   */
  private claim(p: Pending, err: number, value: unknown = true): boolean {
    if (err < 0 || value === undefined || value === null) {
      this.fail(p, err < 0 ? -err : osc.errno.EIO);
      return false;
    }
    return this.answer(p);
  }

  /** The callback for an operation that answers nothing but success or an errno. */
  private status(p: Pending): Cb {
    return (err: number) => this.fail(p, err < 0 ? -err : 0);
  }

  private putStat(st: Stat): void {
    const s = this.stat;
    s[0] = st.ino > 0 ? st.ino : UNKNOWN_INO;
    s[1] = st.mode; s[2] = st.nlink; s[3] = st.uid; s[4] = st.gid; s[5] = st.rdev; s[6] = st.size;
    s[7] = st.blksize; s[8] = st.blocks;
    s[9] = st.atime.sec; s[10] = st.atime.nsec; s[11] = st.mtime.sec; s[12] = st.mtime.nsec; s[13] = st.ctime.sec; s[14] = st.ctime.nsec;
  }

  /** Answers a new name's entry: the node the kernel will know it by, and its attributes. */
  private entry(p: Pending, parent: number, name: string, err: number, st?: Stat): void {
    if (!this.claim(p, err, st)) return;
    this.putStat(st!);
    this.binding.replyEntry(p.id, this.nodes.found(parent, name), this.opts.attrTimeout, this.opts.entryTimeout);
  }

  /** After an operation that made parent/name: look it up and answer its entry. */
  private made(p: Pending, parent: number, name: string, path: string): Cb {
    return (err: number) => (err < 0 ? this.fail(p, -err) : this.ops.getattr!(path, (e: number, st?: Stat) => this.entry(p, parent, name, e, st)));
  }

  private attr(p: Pending): Cb {
    return (err: number, st?: Stat) => {
      if (!this.claim(p, err, st)) return;
      this.putStat(st!);
      this.binding.replyAttr(p.id, this.opts.attrTimeout);
    };
  }

  private dispatch(name?: string, name2?: string, data?: Buffer): void {
    const n = this.nums;
    const id = n[N.ID]!;
    const op = n[N.OP]!;
    const ino = n[N.INO]!;
    this.caller = { uid: n[N.UID]!, gid: n[N.GID]!, pid: n[N.PID]! };
    const p = id === 0 ? undefined : new Pending(id, UNTIMED.has(op) ? 0 : Date.now() + this.opts.timeoutMs);
    if (p?.deadline) this.timed.add(p);
    try {
      if (p) this.handle(p, op, ino, name, name2, data);
      else this.heard(op, ino, data);
    } catch (e) {
      // An operation that throws answers EIO. The error is a bug, so it is not
      // swallowed: it becomes an unhandled rejection, which the daemon logs.
      if (p) this.fail(p, osc.errno.EIO);
      void Promise.reject(e);
    }
  }

  /** A request the binding has answered already (id 0): a forget, a release, a queued write. */
  private heard(op: number, ino: number, data?: Buffer): void {
    const n = this.nums;
    const fh = n[N.FH]!;
    switch (op) {
      case OP.FORGET: return this.nodes.forget(ino, n[N.SIZE]!);
      case OP.RELEASEDIR: return void this.listings.delete(fh);
      case OP.RELEASE: return this.release(ino, fh);
      case OP.WRITE: {
        const len = data!.length;
        const applied = () => this.binding.writeApplied(len);
        const path = this.nodes.path(ino) ?? '';
        return this.ops.writeQueued ? this.ops.writeQueued(path, fh, data, len, n[N.OFF], applied) : this.ops.write!(path, fh, data, len, n[N.OFF], applied);
      }
    }
  }

  /** True (and ENOSYS answered) if the adapter has no operation `fn`. */
  private missing(p: Pending, fn: string): boolean {
    if (this.ops[fn]) return false;
    this.fail(p, osc.errno.ENOSYS);
    return true;
  }

  private handle(p: Pending, op: number, ino: number, name?: string, name2?: string, data?: Buffer): unknown {
    const n = this.nums;
    const ops = this.ops;
    const fh = n[N.FH]!;
    const hasFh = n[N.HAS_FH] === 1;
    const size = n[N.SIZE]!;
    const isNamed = op === OP.LOOKUP || op === OP.MKNOD || op === OP.MKDIR || op === OP.UNLINK || op === OP.RMDIR
      || op === OP.SYMLINK || op === OP.RENAME || op === OP.CREATE;
    const path = isNamed ? this.nodes.childPath(ino, name!) : this.nodes.path(ino);
    if (path === undefined) return this.fail(p, osc.errno.ENOENT);
    switch (op) {
      case OP.LOOKUP:
        return this.missing(p, 'getattr') || ops.getattr!(path, (err: number, st?: Stat) => this.entry(p, ino, name!, err, st));
      case OP.GETATTR:
        if (hasFh && ops.fgetattr) return ops.fgetattr(path, fh, this.attr(p));
        return this.missing(p, 'getattr') || ops.getattr!(path, this.attr(p));
      case OP.SETATTR: return this.setattr(p, path, hasFh ? fh : undefined);
      case OP.READLINK:
        return this.missing(p, 'readlink') || ops.readlink!(path, (err: number, target?: string) => {
          if (this.claim(p, err)) this.binding.replyReadlink(p.id, target ?? '');
        });
      case OP.MKNOD: return this.missing(p, 'mknod') || ops.mknod!(path, n[N.MODE], n[N.RDEV], this.made(p, ino, name!, path));
      case OP.MKDIR: return this.missing(p, 'mkdir') || ops.mkdir!(path, n[N.MODE], this.made(p, ino, name!, path));
      case OP.SYMLINK: return this.missing(p, 'symlink') || ops.symlink!(name2, path, this.made(p, ino, name!, path));
      case OP.LINK: {
        const newParent = n[N.INO2]!;
        const to = this.nodes.childPath(newParent, name2!);
        if (to === undefined) return this.fail(p, osc.errno.ENOENT);
        return this.missing(p, 'link') || ops.link!(path, to, this.made(p, newParent, name2!, to));
      }
      case OP.UNLINK: return this.unlink(p, ino, name!, path);
      case OP.RMDIR:
        return this.missing(p, 'rmdir') || ops.rmdir!(path, (err: number) => {
          if (err >= 0) this.nodes.removed(ino, name!);
          this.status(p)(err);
        });
      case OP.RENAME: return this.rename(p, ino, name!, path, n[N.INO2]!, name2!);
      case OP.OPEN:
        return this.missing(p, 'open') || ops.open!(path, n[N.FLAGS], (err: number, fd?: number) => {
          if (err < 0) return this.fail(p, -err);
          const { fh: openFh, keep } = opened(fd!);
          if (!this.answer(p)) return ops.release?.(path, openFh, () => undefined);
          this.nodes.opened(ino);
          this.binding.replyOpen(p.id, openFh, keep);
        });
      case OP.CREATE:
        return this.missing(p, 'create') || ops.create!(path, n[N.MODE], n[N.FLAGS], (err: number, fd?: number, st?: Stat) => {
          if (err < 0) return this.fail(p, -err);
          const { fh: openFh, keep } = opened(fd!);
          const answer = (e: number, s?: Stat) => {
            // Answered with an error, or by the safety net: the kernel will never release the handle.
            if (!this.claim(p, e, s)) return ops.release?.(path, openFh, () => undefined);
            this.putStat(s!);
            const node = this.nodes.found(ino, name!);
            this.nodes.opened(node);
            this.binding.replyCreate(p.id, node, this.opts.attrTimeout, this.opts.entryTimeout, openFh, keep);
          };
          return st ? answer(0, st) : ops.getattr!(path, answer);
        });
      case OP.READ: {
        const buf = Buffer.allocUnsafe(size);
        return this.missing(p, 'read') || ops.read!(path, fh, buf, size, n[N.OFF], (count: number) => {
          if (this.claim(p, count)) this.binding.replyBuf(p.id, buf, count);
        });
      }
      case OP.WRITE:
        return this.missing(p, 'write') || ops.write!(path, fh, data, data!.length, n[N.OFF], (count: number) => {
          if (this.claim(p, count)) this.binding.replyWrite(p.id, count);
        });
      case OP.FLUSH: return ops.flush ? ops.flush(path, fh, this.status(p)) : this.fail(p, 0);
      case OP.FSYNC: return ops.fsync ? ops.fsync(path, size !== 0, fh, this.status(p)) : this.fail(p, 0);
      case OP.FSYNCDIR: return ops.fsyncdir ? ops.fsyncdir(path, size !== 0, fh, this.status(p)) : this.fail(p, 0);
      case OP.READDIR: return this.readdir(p, path, fh, size, n[N.OFF]);
      case OP.STATFS:
        return this.missing(p, 'statfs') || ops.statfs!(path, (err: number, s?: StatFs) => {
          if (!this.claim(p, err, s) || !s) return;
          this.binding.replyStatfs(p.id, s.bsize, s.frsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.favail, s.namemax);
        });
      case OP.SETXATTR: return this.missing(p, 'setxattr') || ops.setxattr!(path, name, data ?? Buffer.alloc(0), 0, n[N.FLAGS], this.status(p));
      case OP.GETXATTR:
        return this.missing(p, 'getxattr') || ops.getxattr!(path, name, 0, (err: number, value?: Buffer) => this.xattr(p, size, err, value));
      case OP.LISTXATTR:
        return this.missing(p, 'listxattr') || ops.listxattr!(path, (err: number, names?: string[]) =>
          this.xattr(p, size, err, names && Buffer.from(names.map((x) => `${x}\0`).join(''))));
      case OP.REMOVEXATTR: return this.missing(p, 'removexattr') || ops.removexattr!(path, name, this.status(p));
      default: return this.fail(p, osc.errno.ENOSYS);
    }
  }

  /** getxattr and listxattr: a size of 0 asks how large the value is. */
  private xattr(p: Pending, size: number, err: number, value?: Buffer): void {
    if (value && size > 0 && value.length > size) return this.fail(p, osc.errno.ERANGE);
    if (!this.claim(p, err, value) || !value) return;
    if (size === 0) this.binding.replyXattrSize(p.id, value.length);
    else this.binding.replyBuf(p.id, value, value.length);
  }

  /** SETATTR in libfuse's order: mode, owner, size, times; then the new attributes. */
  private setattr(p: Pending, path: string, fh?: number): void {
    const n = this.nums;
    const ops = this.ops;
    const set = n[N.TO_SET]!;
    const time = (nowBit: number, setBit: number, sec: number, nsec: number): TimeArg =>
      (set & nowBit ? 'now' : set & setBit ? { sec, nsec } : 'omit');
    const atime = time(SET.ATIME_NOW, SET.ATIME, n[N.A_SEC]!, n[N.A_NSEC]!);
    const mtime = time(SET.MTIME_NOW, SET.MTIME, n[N.M_SEC]!, n[N.M_NSEC]!);
    const mode = n[N.A_MODE]!;
    const uid = set & SET.UID ? n[N.A_UID]! : NO_ID;
    const gid = set & SET.GID ? n[N.A_GID]! : NO_ID;
    const size = n[N.SIZE]!;
    const steps: ((next: Cb) => void)[] = [];
    const call = (fn: string, ...args: unknown[]) => (next: Cb) => (ops[fn] ? ops[fn](...args, next) : next(-osc.errno.ENOSYS));
    if (set & SET.MODE) steps.push(call('chmod', path, mode));
    if (set & (SET.UID | SET.GID)) steps.push(call('chown', path, uid, gid));
    if (set & SET.SIZE) steps.push(fh !== undefined && ops.ftruncate ? call('ftruncate', path, fh, size) : call('truncate', path, size));
    if (atime !== 'omit' || mtime !== 'omit') steps.push(call('utimens', path, atime, mtime));
    const run = (i: number): void => {
      if (i === steps.length) return fh !== undefined && ops.fgetattr ? ops.fgetattr(path, fh, this.attr(p)) : ops.getattr!(path, this.attr(p));
      steps[i]!((err: number) => (err < 0 ? this.fail(p, -err) : run(i + 1)));
    };
    run(0);
  }

  private readdir(p: Pending, path: string, fh: number, size: number, offset: number): void {
    const send = (listing: Listing) => {
      if (this.answer(p)) {
        const buf = packDirents(listing, offset, size);
        this.binding.replyBuf(p.id, buf, buf.length);
      }
    };
    const listed = this.listings.get(fh);
    if (listed && offset > 0) return send(listed);
    if (this.missing(p, 'readdir')) return;
    this.ops.readdir!(path, (err: number, names?: string[], stats?: Partial<Stat>[]) => {
      if (err < 0) return this.fail(p, -err);
      const listing = { names: names ?? [], stats: stats ?? [] };
      this.listings.set(fh, listing);
      send(listing);
    });
  }

  /** Unlinks parent/name; a name with handles open is renamed aside, and unlinked at its last release. */
  private unlink(p: Pending, parent: number, name: string, path: string): void {
    const node = this.nodes.child(parent, name);
    if (this.nodes.isOpen(node)) return this.hide(p, node!, parent, name, path, () => this.fail(p, 0));
    if (this.missing(p, 'unlink')) return;
    this.ops.unlink!(path, (err: number) => {
      if (err >= 0) this.nodes.removed(parent, name);
      this.status(p)(err);
    });
  }

  private hide(p: Pending, node: number, parent: number, name: string, path: string, then: () => void): void {
    const hidden = this.nodes.hiddenName(node);
    const hiddenPath = this.nodes.childPath(parent, hidden)!;
    this.ops.rename!(path, hiddenPath, (err: number) => {
      if (err < 0) return this.fail(p, -err);
      this.nodes.hid(parent, name, hidden);
      then();
    });
  }

  private rename(p: Pending, parent: number, name: string, path: string, newParent: number, newName: string): void {
    const to = this.nodes.childPath(newParent, newName);
    if (to === undefined) return this.fail(p, osc.errno.ENOENT);
    if (this.missing(p, 'rename')) return;
    const go = () => this.ops.rename!(path, to, (err: number) => {
      if (err >= 0) this.nodes.moved(parent, name, newParent, newName);
      this.status(p)(err);
    });
    const replaced = this.nodes.child(newParent, newName);
    if (replaced !== undefined && replaced !== this.nodes.child(parent, name) && this.nodes.isOpen(replaced)) {
      return this.hide(p, replaced, newParent, newName, to, go);
    }
    go();
  }

  private release(ino: number, fh: number): void {
    const path = this.nodes.path(ino) ?? '';
    const done = () => {
      const hidden = this.nodes.released(ino);
      if (hidden !== undefined) this.ops.unlink?.(hidden, () => undefined);
    };
    if (!this.ops.release) return done();
    this.ops.release(path, fh, done);
  }

  static errno(code: string): number {
    const v = (osc.errno as Record<string, number>)[code];
    return typeof v === 'number' ? -v : -osc.errno.EIO;
  }
}

/** struct fuse_dirent entries from `offset` on, as many as fit in `size` bytes. */
function packDirents(listing: Listing, offset: number, size: number): Buffer {
  const parts: Buffer[] = [];
  let used = 0;
  for (let i = offset; i < listing.names.length; i++) {
    const name = Buffer.from(listing.names[i]!);
    const len = (24 + name.length + 7) & ~7;
    if (used + len > size) break;
    const st = listing.stats[i];
    const e = Buffer.alloc(len);
    const ino = st?.ino && st.ino > 0 ? st.ino : UNKNOWN_INO;
    e.writeUInt32LE(ino % 4294967296, 0);
    e.writeUInt32LE(Math.floor(ino / 4294967296), 4);
    e.writeUInt32LE(i + 1, 8);
    e.writeUInt32LE(name.length, 16);
    e.writeUInt32LE(st?.mode !== undefined ? (st.mode & 0o170000) >> 12 : 0, 20);
    name.copy(e, 24);
    parts.push(e);
    used += len;
  }
  return Buffer.concat(parts, used);
}
