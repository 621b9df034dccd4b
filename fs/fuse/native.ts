// fuse-native, as rebuilt by scripts/build-fuse-native.mjs, with the pieces
// its JavaScript side lacks: nanosecond timestamps (see putTime), UTIME_NOW and
// UTIME_OMIT, our mount options (fuse-native
// has no big_writes/max_write), and the calling process's uid/gid/pid, which
// the patched binding stores at the start of each thread's buffer.
import { createRequire } from 'node:module';
import type { Stat, StatFs } from '../attrs.js';
import type { Timespec } from '../time.js';

const require = createRequire(import.meta.url);

export interface CallerContext {
  uid: number;
  gid: number;
  pid: number;
}

export type Callback = (...args: unknown[]) => void;
/** fuse-native's operations; those whose arguments dbos's binding changed are typed. */
export type FuseOps = Record<string, (...args: any[]) => void> & {
  create?: (path: string, mode: number, flags: number, cb: (err: number, fd?: number, st?: Stat) => void) => void;
};

interface FuseBase {
  ops: FuseOps;
  mnt: string;
  _makeHandlerArray(): ((...args: unknown[]) => unknown)[];
  _op_write(signal: Callback, path: string, fd: number, buf: Buffer, len: number, posLow: number, posHigh: number): void;
}
type FuseClass = new (mnt: string, ops: FuseOps, opts: Record<string, unknown>) => FuseBase & {
  mount(cb: (err: Error | null) => void): void;
};

const Fuse: FuseClass & Record<string, unknown> = require('fuse-native');

/** A handle number with this bit set tells the binding to let the kernel keep the file's page cache (keep_cache). */
export const KEEP_CACHE_HANDLE = 0x20000000;

const UTIME_NOW = (1 << 30) - 1;
const UTIME_OMIT = (1 << 30) - 2;
/** libfuse's FUSE_UNKNOWN_INO, the d_ino of a listed name whose number is not given. */
const UNKNOWN_INO = 0xffffffff;

function putUint64(arr: Uint32Array, i: number, n: number): void {
  arr[i] = n % 4294967296;
  arr[i + 1] = Math.floor(n / 4294967296);
}

/**
 * A time as the patched binding carries it: one 64-bit word split into two
 * uint32s, signed seconds in the top 34 bits, nanoseconds in the low 30.
 */
const SEC_MIN = -(2 ** 33);
const SEC_MAX = 2 ** 33 - 1;
const MASK64 = (1n << 64n) - 1n;

function putTime(arr: Uint32Array, i: number, t: Timespec): void {
  const sec = Math.min(SEC_MAX, Math.max(SEC_MIN, t.sec));
  const v = ((BigInt(sec) << 30n) | BigInt(t.nsec)) & MASK64;
  arr[i] = Number(v & 0xffffffffn);
  arr[i + 1] = Number(v >> 32n);
}

export function unpackTime(low: number, high: number): Timespec {
  let v = (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
  if (v >= 1n << 63n) v -= 1n << 64n;
  return { sec: Number(v >> 30n), nsec: Number(v & 0x3fffffffn) };
}

export function encodeStat(st: Stat): Uint32Array {
  const a = new Uint32Array(18);
  a[0] = st.mode;
  a[1] = st.uid;
  a[2] = st.gid;
  putUint64(a, 3, st.size);
  // The inode number (use_ino), in 64 bits: the patched binding reads the
  // high word from the dev slot, which the kernel never uses. 0 means not
  // known (a listing's "." and ".."): FUSE's own "unknown" number instead.
  const ino = st.ino > 0 ? st.ino : UNKNOWN_INO;
  a[5] = Math.floor(ino / 4294967296);
  a[6] = st.nlink;
  a[7] = ino % 4294967296;
  a[8] = st.rdev;
  a[9] = st.blksize;
  putUint64(a, 10, st.blocks);
  putTime(a, 12, st.atime);
  putTime(a, 14, st.mtime);
  putTime(a, 16, st.ctime);
  return a;
}

export function encodeStatFs(s: StatFs): Uint32Array {
  const cap = (n: number) => Math.min(Math.max(0, Math.floor(n)), 0xffffffff);
  return Uint32Array.from([s.bsize, s.frsize, cap(s.blocks), cap(s.bfree), cap(s.bavail), cap(s.files), cap(s.ffree), cap(s.favail), 0, 0, s.namemax]);
}

export type TimeArg = Timespec | 'now' | 'omit';

function decodeTime(low: number, high: number): TimeArg {
  const t = unpackTime(low, high);
  if (t.nsec === UTIME_NOW) return 'now';
  if (t.nsec === UTIME_OMIT) return 'omit';
  return t;
}

export interface NativeMountOptions {
  allowOther: boolean;
  /** Seconds the kernel may cache attributes and names. */
  attrTimeout: number;
  entryTimeout: number;
  /** Per-request safety net (ms), longer than any database deadline. */
  timeoutMs: number;
}

/**
 * The adapter's ops receive our Stat objects; this class encodes them, and
 * exposes the caller of the request being dispatched right now (valid only
 * synchronously at the start of an op).
 */
export class DbosFuse extends (Fuse as unknown as FuseClass) {
  caller: CallerContext = { uid: 0, gid: 0, pid: 0 };
  private readonly mountOpts: NativeMountOptions;

  constructor(mountpoint: string, ops: FuseOps, opts: NativeMountOptions) {
    // Bulk operations and mailbox reads (which wait for a message) have their own deadlines.
    // Writes too: a write may wait behind a flush, and a queued write's answer counts its bytes.
    super(mountpoint, ops, { timeout: { default: opts.timeoutMs, rename: false, unlink: false, truncate: false, ftruncate: false, flush: false, fsync: false, release: false, rmdir: false, read: false, write: false } });
    this.mountOpts = opts;
  }

  override _makeHandlerArray(): ((...args: unknown[]) => unknown)[] {
    const handlers = super._makeHandlerArray();
    return handlers.map((h) => h && ((native: unknown, ...rest: unknown[]) => {
      const b = native as Buffer;
      this.caller = { uid: b.readUInt32LE(0), gid: b.readUInt32LE(4), pid: b.readUInt32LE(8) };
      return h(native, ...rest);
    }));
  }

  _fuseOptions(): string {
    const o = this.mountOpts;
    const options = [
      // use_ino: st_ino is the filesystem's own number, which lasts; libfuse's
      // changed whenever the kernel forgot an inode.
      'fsname=dbos', 'subtype=dbos', 'default_permissions', 'use_ino',
      'big_writes', 'max_write=131072', 'max_read=131072',
      `attr_timeout=${o.attrTimeout}`, `entry_timeout=${o.entryTimeout}`, 'negative_timeout=0',
    ];
    if (o.allowOther) options.push('allow_other');
    return '-o' + options.join(',');
  }

  _op_getattr(signal: Callback, path: string): void {
    this.ops.getattr!(path, (err: number, st?: Stat) => (err ? signal(err, new Uint32Array(18)) : signal(0, encodeStat(st!))));
  }

  _op_fgetattr(signal: Callback, path: string, fd: number): void {
    this.ops.fgetattr!(path, fd, (err: number, st?: Stat) => (err ? signal(err, new Uint32Array(18)) : signal(0, encodeStat(st!))));
  }

  /**
   * The open flags come from the binding (scripts/build-fuse-native.mjs,
   * edit 9). The new file's attributes go with the handle: the binding
   * answers libfuse's fgetattr right after create with them.
   */
  _op_create(signal: Callback, path: string, mode: number, flags: number): void {
    this.ops.create!(path, mode, flags, (err: number, fd?: number, st?: Stat) => (err ? signal(err) : signal(0, fd, st ? encodeStat(st) : undefined)));
  }

  /**
   * The binding answers most writes itself and hands them over afterwards,
   * marked `queued` (scripts/build-fuse-native.mjs, edit 7). Nobody waits for
   * their result: the answer tells the binding that their bytes are applied,
   * and a failure is for ops.writeQueued (if given) to report later.
   */
  override _op_write(signal: Callback, path: string, fd: number, buf: Buffer, len: number, posLow: number, posHigh: number, queued?: boolean): void {
    if (!queued) return super._op_write(signal, path, fd, buf, len, posLow, posHigh);
    const applied = () => signal(0, len, buf.buffer);
    (this.ops.writeQueued ?? this.ops.write!)(path, fd, buf, len, posLow + posHigh * 4294967296, applied);
  }

  _op_readdir(signal: Callback, path: string): void {
    this.ops.readdir!(path, (err: number, names?: string[], stats?: Stat[]) => {
      if (err) return signal(err);
      return signal(0, names, (stats ?? []).map(encodeStat));
    });
  }

  _op_statfs(signal: Callback, path: string): void {
    this.ops.statfs!(path, (err: number, s?: StatFs) => (err ? signal(err) : signal(0, encodeStatFs(s!))));
  }

  _op_utimens(signal: Callback, path: string, aLow: number, aHigh: number, mLow: number, mHigh: number): void {
    this.ops.utimens!(path, decodeTime(aLow, aHigh), decodeTime(mLow, mHigh), (err: number) => signal(err));
  }

  static errno(code: string): number {
    const v = (Fuse as unknown as Record<string, number>)[code];
    return typeof v === 'number' ? v : -5;
  }
}
