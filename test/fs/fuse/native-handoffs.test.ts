// The binding answers in C what needs no JavaScript: RELEASE (which the
// kernel sends after close(2) has returned, and never waits for) and WRITE
// are answered at once and queued for JavaScript, in order with everything
// else; and a FLUSH while nothing on the mount has been written through is
// answered in C. And create's attributes and open flags reach the right
// places. Mounted in this process with a filesystem of made-up files (no
// database); the programs that use it run as children, since this process's
// own thread answers the requests.
import { execFile } from 'node:child_process';
import { constants, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbosFuse, type FuseOps } from '../../../fs/fuse/native.js';

const run = promisify(execFile);
const { O_APPEND, O_EXCL, O_RDWR, O_TRUNC, O_WRONLY } = constants;
type Cb = (...args: any[]) => void; // as the binding calls the adapter's operations

const CREATED = { sec: 1_600_000_000, nsec: 111 };
const LATER = { sec: 1_700_000_000, nsec: 222 };
const stat = (dir: boolean, t: { sec: number; nsec: number }) => ({
  mode: dir ? 0o40755 : 0o100640, uid: 0, gid: 0, size: dir ? 0 : 7, nlink: dir ? 2 : 1, rdev: 0, blksize: 4096, blocks: 0,
  atime: t, mtime: t, ctime: t,
});

const files = new Set<string>();
const calls: string[] = [];
const releases: { path: string; fd: number }[] = [];
const heldReleases: Cb[] = [];
let holdReleases = false;
const writes: { path: string; pos: number; data: string }[] = [];
let writtenBytes = 0;
const heldWrites: (() => void)[] = [];
let holdWrites = false;
let nextFd = 10;
const createFlags: number[] = [];

const ops: FuseOps = {
  getattr: (path: string, cb: Cb) => {
    calls.push(`getattr ${path}`);
    if (path === '/') return cb(0, stat(true, LATER));
    return files.has(path) ? cb(0, stat(false, LATER)) : cb(-2);
  },
  fgetattr: (path: string, _fd: number, cb: Cb) => {
    calls.push(`fgetattr ${path}`);
    return files.has(path) ? cb(0, stat(false, LATER)) : cb(-2);
  },
  // The attributes of a new file as create reports them differ from what
  // fgetattr says later, so a test can tell which of the two the kernel got.
  create: (path: string, _mode: number, flags: number, cb: Cb) => {
    calls.push(`create ${path}`);
    createFlags.push(flags);
    files.add(path);
    cb(0, nextFd++, stat(false, CREATED));
  },
  open: (path: string, _flags: number, cb: Cb) => cb(0, nextFd++),
  write: (path: string, _fd: number, buf: Buffer, len: number, pos: number, cb: Cb) => {
    calls.push(`write ${path} ${pos} ${len}`);
    writtenBytes += len;
    if (len < 100) writes.push({ path, pos, data: buf.subarray(0, len).toString() });
    if (holdWrites) heldWrites.push(() => cb(len));
    else cb(len);
  },
  flush: (path: string, _fd: number, cb: Cb) => {
    calls.push(`flush ${path}`);
    cb(0);
  },
  release: (path: string, fd: number, cb: Cb) => {
    calls.push(`release ${path}`);
    releases.push({ path, fd });
    if (holdReleases) heldReleases.push(cb);
    else cb(0);
  },
};

let mountpoint: string;
const osThreads = () => readdirSync('/proc/self/task').length;
const py = (script: string) => run('python3', ['-c', `import os\nm = ${JSON.stringify(mountpoint)}\n${script}`]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  mountpoint = mkdtempSync(join(tmpdir(), 'dbos-handoffs-'));
  const fuse = new DbosFuse(mountpoint, ops, { allowOther: false, attrTimeout: 3600, entryTimeout: 3600, timeoutMs: 10_000 });
  await promisify((cb: (err: Error | null) => void) => fuse.mount(cb))();
});
afterAll(async () => {
  for (const cb of heldReleases.splice(0)) cb(0);
  holdWrites = false;
  for (const applied of heldWrites.splice(0)) applied();
  await run('fusermount', ['-u', mountpoint]).catch(() => run('fusermount', ['-uz', mountpoint]));
  rmSync(mountpoint, { recursive: true, force: true });
});

describe('hand-offs the binding spares', () => {
  it('answers the fgetattr after a create with the attributes create returned', async () => {
    calls.length = 0;
    // O_CREAT|O_EXCL, then fstat: with attributes cached for an hour, fstat
    // shows what the kernel got in the create's reply.
    const { stdout } = await run('python3', ['-c', `
import os
fd = os.open(${JSON.stringify(`${mountpoint}/new`)}, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640)
st = os.fstat(fd)
print(oct(st.st_mode), st.st_size, st.st_mtime_ns)
os.close(fd)`]);
    expect(stdout.trim()).toBe(`0o100640 7 ${CREATED.sec}000000${CREATED.nsec}`);
    expect(calls).toContain('create /new');
    expect(calls).not.toContain('fgetattr /new');
  });

  it('hands create the open flags, so that the shim can honour O_EXCL and O_TRUNC when the name appeared after the lookup', async () => {
    createFlags.length = 0;
    await py(`os.close(os.open(m + '/excl', os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_APPEND, 0o600))
os.close(os.open(m + '/trunc', os.O_CREAT | os.O_TRUNC | os.O_RDWR, 0o600))`);
    expect(createFlags).toHaveLength(2);
    const [excl, trunc] = createFlags as [number, number];
    expect([excl & O_EXCL, excl & O_APPEND, excl & 3]).toEqual([O_EXCL, O_APPEND, O_WRONLY]);
    expect([trunc & O_EXCL, trunc & O_TRUNC, trunc & 3]).toEqual([0, O_TRUNC, O_RDWR]);
  });

  it('answers a FLUSH itself while no handle has been written through, and sends every FLUSH on while one has', async () => {
    for (const n of ['/a', '/b', '/c']) files.add(n);
    calls.length = 0;
    await py(`os.close(os.open(m + '/a', os.O_RDWR))`);
    expect(calls.filter((c) => c.startsWith('flush'))).toEqual([]);
    await py(`fd = os.open(m + '/a', os.O_RDWR)\nos.write(fd, b'x')\nos.close(fd)`);
    expect(calls.filter((c) => c.startsWith('flush'))).toEqual(['flush /a']);
    // /a is written and still open: /b's close goes through (a shared mmap's
    // pages may come back through any handle), then /a's; after that /c's does not.
    calls.length = 0;
    await py(`fa = os.open(m + '/a', os.O_RDWR)
os.write(fa, b'y')
os.close(os.open(m + '/b', os.O_RDONLY))
os.close(fa)
os.close(os.open(m + '/c', os.O_RDONLY))`);
    expect(calls.filter((c) => c.startsWith('flush'))).toEqual(['flush /b', 'flush /a']);
  });

  it('answers a RELEASE at once, starting no thread for it, and still hands every release to JavaScript', async () => {
    holdReleases = true;
    releases.length = 0;
    const threadsBefore = osThreads();
    // 30 files closed one after another while no release's handler has answered.
    const names = Array.from({ length: 30 }, (_, i) => `${mountpoint}/r${i}`);
    await run('python3', ['-c', `
import os, sys
for p in sys.argv[1:]:
    os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o644))`, ...names]);
    for (let i = 0; i < 100 && releases.length < names.length; i++) await new Promise((r) => setTimeout(r, 20));
    expect(releases.map((r) => r.path).sort()).toEqual(names.map((n) => n.slice(mountpoint.length)).sort());
    expect(new Set(releases.map((r) => r.fd)).size).toBe(names.length);
    // A release that kept a thread until JavaScript answered would need a
    // new thread for each later request: 30 or more.
    expect(osThreads() - threadsBefore).toBeLessThan(10);
    for (const cb of heldReleases.splice(0)) cb(0);
    holdReleases = false;
  });

  it('answers a write before JavaScript has applied it, and hands JavaScript the writes in order, before the FLUSH that followed them', async () => {
    files.add('/w');
    holdWrites = true;
    calls.length = 0;
    writes.length = 0;
    // close(2) returns although no write handler has answered.
    await py(`fd = os.open(m + '/w', os.O_WRONLY)
for i, part in enumerate([b'one', b'two!', b'three', b'four']):
    os.pwrite(fd, part, 10 * i)
os.close(fd)`);
    expect(heldWrites.length).toBe(4);
    expect(writes.map((w) => [w.path, w.pos, w.data])).toEqual([['/w', 0, 'one'], ['/w', 10, 'two!'], ['/w', 20, 'three'], ['/w', 30, 'four']]);
    expect(calls.filter((c) => c.startsWith('write') || c.startsWith('flush'))).toEqual(
      ['write /w 0 3', 'write /w 10 4', 'write /w 20 5', 'write /w 30 4', 'flush /w']);
    for (const applied of heldWrites.splice(0)) applied();
    holdWrites = false;
  });

  it('bounds what it has answered and JavaScript has not applied: past 32 MiB a write waits for JavaScript', async () => {
    files.add('/big');
    holdWrites = true;
    writtenBytes = 0;
    let exited = false;
    const writer = py(`fd = os.open(m + '/big', os.O_WRONLY)
b = b'x' * (1 << 20)
for i in range(40):
    os.write(fd, b)
os.close(fd)`).finally(() => { exited = true; });
    for (let i = 0; i < 500 && writtenBytes < 32 << 20; i++) await sleep(20);
    await sleep(300);
    // 32 MiB queued and unanswered, then one write (of at most 128 KiB) that waits.
    expect(exited).toBe(false);
    expect(writtenBytes).toBeGreaterThan(31 << 20);
    expect(writtenBytes).toBeLessThanOrEqual((32 << 20) + (128 << 10));
    while (!exited) {
      for (const applied of heldWrites.splice(0)) applied();
      await sleep(10);
    }
    await writer;
    expect(writtenBytes).toBe(40 << 20);
    holdWrites = false;
  });
});
