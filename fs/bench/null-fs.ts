// The "fuse-null" target of `dbos bench fs`: a filesystem served by the same
// FUSE binding and mount options as dbos, that keeps only names and
// sizes in memory (reads return zeros) and never touches a database. What it
// reaches is the most dbos through FUSE could reach on the machine: the cost
// of each request's crossing from the kernel through the binding to
// JavaScript and back.
// Run as a program: node null-fs.js MOUNTPOINT (prints "mounted", unmounts on SIGTERM).
import { constants as fsc } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Stat } from '../attrs.js';
import { DbosFuse, KEEP_CACHE_HANDLE, type FuseOps } from '../fuse/native.js';
import { fusermount } from '../fuse/mountpoint.js';
import { splitPath } from '../paths.js';
import { now, type Timespec } from '../time.js';

interface Node {
  ino: number;
  dir: boolean;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: Timespec;
  ctime: Timespec;
}

type Cb = (...args: any[]) => void; // as the binding calls the adapter's operations
const errno = (code: string) => DbosFuse.errno(code);

/** The operations; `caller` is the process making the request being served. */
export function nullFsOps(caller: () => { uid: number; gid: number }): FuseOps {
  const t0 = now();
  let lastIno = 1;
  const nodes = new Map<string, Node>([['/', { ino: lastIno, dir: true, mode: 0o755, uid: 0, gid: 0, size: 0, mtime: t0, ctime: t0 }]]);
  const children = new Map<string, Set<string>>([['/', new Set()]]);
  let nextHandle = 1;

  const stat = (n: Node): Stat => ({
    ino: n.ino, mode: (n.dir ? fsc.S_IFDIR : fsc.S_IFREG) | n.mode, uid: n.uid, gid: n.gid, size: n.size, nlink: n.dir ? 2 : 1, rdev: 0,
    blksize: 4096, blocks: Math.ceil(n.size / 512), atime: n.mtime, mtime: n.mtime, ctime: n.ctime,
  });
  const add = (path: string, dir: boolean, mode: number): number => {
    const { parent, name } = splitPath(path);
    const siblings = children.get(parent);
    if (!siblings) return errno('ENOENT');
    if (nodes.has(path)) return errno('EEXIST');
    const c = caller();
    const t = now();
    nodes.set(path, { ino: ++lastIno, dir, mode: mode & 0o7777, uid: c.uid, gid: c.gid, size: 0, mtime: t, ctime: t });
    siblings.add(name);
    if (dir) children.set(path, new Set());
    return 0;
  };
  const remove = (path: string, dir: boolean): number => {
    const n = nodes.get(path);
    if (!n) return errno('ENOENT');
    if (n.dir !== dir) return errno(dir ? 'ENOTDIR' : 'EISDIR');
    if (dir && children.get(path)!.size > 0) return errno('ENOTEMPTY');
    nodes.delete(path);
    children.delete(path);
    const { parent, name } = splitPath(path);
    children.get(parent)?.delete(name);
    return 0;
  };
  const handle = () => {
    const h = nextHandle;
    nextHandle = nextHandle >= 0xfffffff ? 1 : nextHandle + 1;
    return h | KEEP_CACHE_HANDLE; // contents change only through this mount, as dbos's when no one else writes
  };
  const withNode = (path: string, cb: Cb, f: (n: Node) => void) => {
    const n = nodes.get(path);
    if (!n) return cb(errno('ENOENT'));
    f(n);
    return cb(0);
  };
  const resize = (n: Node, size: number) => { n.size = size; n.mtime = n.ctime = now(); };

  return {
    init: (cb: Cb) => cb(0),
    getattr: (path: string, cb: Cb) => { const n = nodes.get(path); return n ? cb(0, stat(n)) : cb(errno('ENOENT')); },
    fgetattr: (path: string, _fd: number, cb: Cb) => { const n = nodes.get(path); return n ? cb(0, stat(n)) : cb(errno('ENOENT')); },
    statfs: (_path: string, cb: Cb) => cb(0, { bsize: 4096, frsize: 4096, blocks: 1 << 30, bfree: 1 << 30, bavail: 1 << 30, files: 1 << 30, ffree: 1 << 30, favail: 1 << 30, fsid: 0, flag: 0, namemax: 255 }),
    readdir: (path: string, cb: Cb) => { const c = children.get(path); return c ? cb(0, [...c], []) : cb(errno('ENOENT')); },
    mkdir: (path: string, mode: number, cb: Cb) => cb(add(path, true, mode)),
    rmdir: (path: string, cb: Cb) => cb(remove(path, true)),
    create: (path: string, mode: number, _flags: number, cb: Cb) => { const r = add(path, false, mode); return r ? cb(r) : cb(0, handle(), stat(nodes.get(path)!)); },
    open: (path: string, _flags: number, cb: Cb) => (nodes.has(path) ? cb(0, handle()) : cb(errno('ENOENT'))),
    read: (path: string, _fd: number, buf: Buffer, len: number, pos: number, cb: Cb) => {
      const n = Math.max(0, Math.min(len, (nodes.get(path)?.size ?? 0) - pos));
      buf.fill(0, 0, n);
      cb(n);
    },
    write: (path: string, _fd: number, _buf: Buffer, len: number, pos: number, cb: Cb) => {
      const n = nodes.get(path);
      if (!n) return cb(errno('ENOENT'));
      resize(n, Math.max(n.size, pos + len));
      return cb(len);
    },
    truncate: (path: string, size: number, cb: Cb) => withNode(path, cb, (n) => resize(n, size)),
    ftruncate: (path: string, _fd: number, size: number, cb: Cb) => withNode(path, cb, (n) => resize(n, size)),
    flush: (_path: string, _fd: number, cb: Cb) => cb(0),
    fsync: (_path: string, _datasync: boolean, _fd: number, cb: Cb) => cb(0),
    fsyncdir: (_path: string, _datasync: boolean, _fd: number, cb: Cb) => cb(0),
    release: (_path: string, _fd: number, cb: Cb) => cb(0),
    unlink: (path: string, cb: Cb) => cb(remove(path, false)),
    chmod: (path: string, mode: number, cb: Cb) => withNode(path, cb, (n) => { n.mode = mode & 0o7777; n.ctime = now(); }),
    utimens: (path: string, _atime: unknown, _mtime: unknown, cb: Cb) => withNode(path, cb, (n) => { n.ctime = now(); }),
    getxattr: (_path: string, _name: string, _position: number, cb: Cb) => cb(errno('ENODATA')),
    listxattr: (_path: string, cb: Cb) => cb(0, []),
  };
}

async function main(mountpoint: string): Promise<void> {
  const fuse: DbosFuse = new DbosFuse(mountpoint, nullFsOps(() => fuse.caller), { allowOther: process.getuid?.() === 0, attrTimeout: 1, entryTimeout: 1, timeoutMs: 60_000 });
  await promisify((cb: (err: Error | null) => void) => fuse.mount(cb))();
  process.stdout.write('mounted\n');
  const stop = () => { fusermount(mountpoint, false).catch(() => fusermount(mountpoint, true)).finally(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv[2] ?? '').catch((e) => {
    process.stderr.write(`null-fs: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
