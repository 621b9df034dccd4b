// The FUSE binding (libfuse 2's low-level API), mounted in this process with
// a filesystem of made-up files (no database): one session thread hands
// JavaScript every request, many at once, without a thread per request; a
// request whose operation never answers gets ETIMEDOUT from the safety net;
// and the daemon's children must not inherit /dev/fuse.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbosFuse, type FuseOps } from '../../../fs/fuse/native.js';

const run = promisify(execFile);
const T = { sec: 1_700_000_000, nsec: 0 };
const stat = (dir: boolean, ino: number) => ({
  ino, mode: dir ? 0o40755 : 0o100644, uid: 0, gid: 0, size: 0, nlink: dir ? 2 : 1, rdev: 0, blksize: 4096, blocks: 0,
  atime: T, mtime: T, ctime: T,
});

let inFlight = 0;
let peakInFlight = 0;
const ops: FuseOps = {
  // Every name exists but /hang, whose attributes never come; each answer
  // waits a little, so that a burst of requests is in JavaScript at once.
  getattr(path: string, cb: (err: number, st?: unknown) => void) {
    if (path === '/hang') return;
    peakInFlight = Math.max(peakInFlight, ++inFlight);
    setTimeout(() => { inFlight--; cb(0, stat(path === '/', path.length)); }, 20);
  },
};

let mountpoint: string;
let fuse: DbosFuse;
const osThreads = () => readdirSync('/proc/self/task').length;

beforeAll(async () => {
  mountpoint = mkdtempSync(join(tmpdir(), 'dbos-native-'));
  // Attributes are never cached, so every stat is a GETATTR.
  fuse = new DbosFuse(mountpoint, ops, { allowOther: false, attrTimeout: 0, entryTimeout: 3600, timeoutMs: 1500 });
  await promisify((cb: (err: Error | null) => void) => fuse.mount(cb))();
});
afterAll(async () => {
  await promisify((cb: (err: Error | null) => void) => fuse.unmount(cb))().catch(() => run('fusermount', ['-uz', mountpoint]));
  rmSync(mountpoint, { recursive: true, force: true });
});

describe('the FUSE binding', () => {
  it('hands JavaScript many requests at once from one session thread, and answers each', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `${mountpoint}/n${i}`);
    await run('stat', ['-c', '%s', ...names]);
    const threadsBefore = osThreads();
    let peakThreads = 0;
    // 40 processes at once, each stat-ing its own name 25 times.
    const child = run('bash', ['-c', 'xargs -P 40 -n 25 stat -c %i | sort | uniq -c'], { timeout: 60_000 });
    child.child.stdin!.end(names.flatMap((n) => Array(25).fill(n)).join('\n'));
    const sample = setInterval(() => { peakThreads = Math.max(peakThreads, osThreads()); }, 2);
    const { stdout } = await child;
    clearInterval(sample);
    // Every stat got its own name's answer (st_ino is the path's length here)...
    const counts = stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
    expect(counts.reduce((sum, [n]) => sum + n!, 0)).toBe(1000);
    expect(new Set(counts.map(([, ino]) => ino))).toEqual(new Set(names.map((n) => n.length - mountpoint.length)));
    // ...many were in JavaScript at once, and no thread was started for them.
    expect(peakInFlight).toBeGreaterThanOrEqual(20);
    expect(peakThreads).toBeLessThanOrEqual(threadsBefore + 1);
  });

  it('answers ETIMEDOUT for a request its operation never answers, once the safety net runs out', async () => {
    const t0 = Date.now();
    const err = await run('stat', [`${mountpoint}/hang`]).then(() => null, (e: { stderr: string }) => e.stderr);
    expect(err).toMatch(/timed out/i);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
    // The mount goes on serving.
    expect((await run('stat', ['-c', '%F', `${mountpoint}/after`])).stdout.trim()).toBe('regular empty file');
  });

  it('does not let the daemon\'s child processes inherit /dev/fuse', async () => {
    const devices = (pid: number | string) => readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    }).filter((target) => target === '/dev/fuse');
    expect(devices('self')).toHaveLength(1);
    const child = spawn('sleep', ['10'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      expect(devices(child.pid!)).toEqual([]);
    } finally {
      child.kill();
    }
  });
});
