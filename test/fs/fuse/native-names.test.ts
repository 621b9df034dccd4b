// The binding's node ids become the paths the adapter's operations take
// (fs/fuse/nodes.ts), mounted in this process over a small in-memory tree:
// renamed directories keep their children's paths right; a file unlinked or
// replaced while open is renamed aside and unlinked at its last close, as
// libfuse's path API did; a create that cannot be answered gives its handle
// back; a listing longer than one READDIR comes whole; and an extended
// attribute's size is asked before its value.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DbosFuse, type FuseOps } from '../../../fs/fuse/native.js';

const run = promisify(execFile);
type Cb = (...args: any[]) => void;
const ENOENT = -2;
const T = { sec: 1_700_000_000, nsec: 0 };

/** path → contents (a string) or null for a directory. */
const tree = new Map<string, string | null>([['/', null]]);
const xattrs = new Map<string, Buffer>();
const calls: string[] = [];
const handles = new Map<number, string>();
let nextFd = 1;
let ino = 1;
const inos = new Map<string, number>([['/', 1]]);

const statOf = (path: string) => {
  const v = tree.get(path)!;
  return {
    ino: inos.get(path)!, mode: v === null ? 0o40755 : 0o100644, uid: 0, gid: 0, size: v?.length ?? 0, nlink: 1, rdev: 0,
    blksize: 4096, blocks: 0, atime: T, mtime: T, ctime: T,
  };
};
const parentOf = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/';
const make = (path: string, v: string | null) => { tree.set(path, v); inos.set(path, ++ino); };

const ops: FuseOps = {
  getattr: (path: string, cb: Cb) => (tree.has(path) ? cb(0, statOf(path)) : cb(ENOENT)),
  readdir: (path: string, cb: Cb) => {
    const names = [...tree.keys()].filter((p) => p !== '/' && parentOf(p) === path).map((p) => p.slice(p.lastIndexOf('/') + 1));
    cb(0, names, names.map((n) => statOf(path === '/' ? `/${n}` : `${path}/${n}`)));
  },
  mkdir: (path: string, _mode: number, cb: Cb) => { make(path, null); cb(0); },
  create: (path: string, _mode: number, _flags: number, cb: Cb) => {
    // A create whose new file then cannot be looked up (another client removed it at once).
    if (path.endsWith('/vanishes')) {
      handles.set(nextFd, path);
      return cb(0, nextFd++);
    }
    make(path, '');
    handles.set(nextFd, path);
    cb(0, nextFd++);
  },
  open: (path: string, _flags: number, cb: Cb) => {
    if (!tree.has(path)) return cb(ENOENT);
    handles.set(nextFd, path);
    return cb(0, nextFd++);
  },
  // Handles follow their file across renames, as the shim's do.
  read: (_path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) => {
    const data = Buffer.from(tree.get(handles.get(fd)!) ?? '');
    cb(data.copy(buf, 0, pos, Math.min(data.length, pos + len)));
  },
  write: (_path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) => {
    const p = handles.get(fd)!;
    const old = Buffer.from(tree.get(p) ?? '');
    const next = Buffer.alloc(Math.max(old.length, pos + len));
    old.copy(next);
    buf.copy(next, pos, 0, len);
    tree.set(p, next.toString());
    cb(len);
  },
  release: (_path: string, fd: number, cb: Cb) => { calls.push(`release ${handles.get(fd)}`); handles.delete(fd); cb(0); },
  unlink: (path: string, cb: Cb) => { calls.push(`unlink ${path}`); tree.delete(path); cb(0); },
  rmdir: (path: string, cb: Cb) => { tree.delete(path); cb(0); },
  rename: (from: string, to: string, cb: Cb) => {
    calls.push(`rename ${from} ${to}`);
    for (const [p, v] of [...tree]) {
      if (p !== from && !p.startsWith(`${from}/`)) continue;
      const q = to + p.slice(from.length);
      tree.delete(p);
      tree.set(q, v);
      inos.set(q, inos.get(p)!);
      for (const [fd, hp] of handles) if (hp === p) handles.set(fd, q);
    }
    cb(0);
  },
  getxattr: (path: string, name: string, _pos: number, cb: Cb) => {
    const v = xattrs.get(`${path}:${name}`);
    return v ? cb(0, v) : cb(-61);
  },
  setxattr: (path: string, name: string, value: Buffer, _pos: number, _flags: number, cb: Cb) => { xattrs.set(`${path}:${name}`, Buffer.from(value)); cb(0); },
  listxattr: (path: string, cb: Cb) => cb(0, [...xattrs.keys()].filter((k) => k.startsWith(`${path}:`)).map((k) => k.slice(path.length + 1))),
};

let mountpoint: string;
let fuse: DbosFuse;
// Not spawned with cwd on the mount: the child's chdir would wait for this
// process's thread, which waits for the child to start.
const sh = async (script: string) => (await run('bash', ['-c', `cd "$0" && ${script}`, mountpoint])).stdout;

beforeAll(async () => {
  mountpoint = mkdtempSync(join(tmpdir(), 'dbos-names-'));
  fuse = new DbosFuse(mountpoint, ops, { allowOther: false, attrTimeout: 1, entryTimeout: 1, timeoutMs: 10_000 });
  await promisify((cb: (err: Error | null) => void) => fuse.mount(cb))();
});
afterAll(async () => {
  await promisify((cb: (err: Error | null) => void) => fuse.unmount(cb))().catch(() => run('fusermount', ['-uz', mountpoint]));
  rmSync(mountpoint, { recursive: true, force: true });
});
beforeEach(() => { calls.length = 0; });

describe('node ids and paths', () => {
  it('a renamed directory\'s children are found under its new path', async () => {
    await sh('mkdir -p a/b && echo deep > a/b/f && cat a/b/f >/dev/null && mv a z');
    expect(await sh('cat z/b/f')).toBe('deep\n');
    expect(tree.has('/z/b/f')).toBe(true);
    await expect(sh('cat a/b/f')).rejects.toThrow(/No such file/);
  });

  it('a file unlinked while open is renamed aside, readable through its handle, and unlinked at its last close', async () => {
    await sh('echo kept > open1');
    const out = await sh('exec 3<open1; rm open1; ls -A; cat <&3; exec 3<&-; ls -A');
    const [during, after] = [out.split('kept\n')[0]!, out.split('kept\n')[1]!];
    expect(during).toMatch(/^\.fuse_hidden[0-9a-f]{16}$/m);
    expect(during).not.toMatch(/^open1$/m);
    expect(after).not.toMatch(/fuse_hidden/);
    const hidden = calls.find((c) => c.startsWith('rename /open1 '))!.split(' ')[2]!;
    expect(calls.indexOf(`unlink ${hidden}`)).toBeGreaterThan(calls.indexOf(`release ${hidden}`));
    expect(calls).not.toContain('unlink /open1');
  });

  it('a file replaced by a rename while open is renamed aside first, and unlinked at its last close', async () => {
    await sh('echo old > target && echo new > source');
    calls.length = 0;
    const out = await sh('exec 3<target; mv source target; cat target; cat <&3; exec 3<&-');
    expect(out).toBe('new\nold\n');
    expect(calls[0]).toMatch(/^rename \/target \/\.fuse_hidden/);
    expect(calls[1]).toBe('rename /source /target');
    expect(calls.some((c) => /^unlink \/\.fuse_hidden/.test(c))).toBe(true);
    expect(await sh('ls -A | grep -c fuse_hidden || true')).toBe('0\n');
  });

  it('releases the handle of a create it cannot answer, since the kernel never will', async () => {
    await expect(sh(': > vanishes')).rejects.toThrow(/No such file/);
    expect(calls).toContain('release /vanishes');
  });

  it('lists a directory longer than one READDIR answer whole, each name once', async () => {
    const names = Array.from({ length: 3000 }, (_, i) => `${'n'.repeat(60)}${i}`);
    await sh('mkdir big');
    for (const n of names) make(`/big/${n}`, '');
    const listed = (await sh('ls -f big')).trim().split('\n').filter((n) => n !== '.' && n !== '..');
    expect(listed.length).toBe(3000);
    expect(new Set(listed)).toEqual(new Set(names));
  });

  it('asks an extended attribute\'s size before its value, and lists names the same way', async () => {
    await sh(': > x && setfattr -n user.long -v "$(printf "v%.0s" $(seq 300))" x && setfattr -n user.short -v s x');
    expect((await sh('getfattr --only-values -n user.long x')).length).toBe(300);
    expect(await sh('getfattr -m - x | sort')).toContain('user.long\nuser.short');
  });
});
