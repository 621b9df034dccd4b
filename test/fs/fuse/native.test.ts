// The rebuilt fuse-native binding, mounted in this process with a filesystem
// of made-up files (no database): libfuse retires idle worker threads and
// starts new ones as the load comes and goes, and each new thread must reuse a
// retired thread's struct (and its uv_async_t) instead of adding one for good;
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
const stat = (dir: boolean) => ({
  mode: dir ? 0o40755 : 0o100644, uid: 0, gid: 0, size: 0, nlink: dir ? 2 : 1, rdev: 0, blksize: 4096, blocks: 0,
  atime: T, mtime: T, ctime: T,
});

let inFlight = 0;
let peakInFlight = 0;
const ops: FuseOps = {
  // Every name exists; each answer waits a little, so that a burst of
  // requests keeps many libfuse threads busy at once.
  getattr(path: string, cb: (err: number, st?: unknown) => void) {
    peakInFlight = Math.max(peakInFlight, ++inFlight);
    setTimeout(() => { inFlight--; cb(0, stat(path === '/')); }, 20);
  },
};

let mountpoint: string;
let fuse: DbosFuse;
const threadStructs = () => (fuse as unknown as { _threads: Set<Buffer> })._threads.size;
const osThreads = () => readdirSync('/proc/self/task').length;

beforeAll(async () => {
  mountpoint = mkdtempSync(join(tmpdir(), 'dbos-native-'));
  // Names stay looked up and attributes are never cached, so every stat is a
  // GETATTR. (Lookups would not do: the kernel serializes them within a
  // directory for a libfuse 2 filesystem, which cannot offer parallel dirops.)
  fuse = new DbosFuse(mountpoint, ops, { allowOther: false, attrTimeout: 0, entryTimeout: 3600, timeoutMs: 10_000 });
  await promisify((cb: (err: Error | null) => void) => fuse.mount(cb))();
});
afterAll(async () => {
  await run('fusermount', ['-u', mountpoint]).catch(() => run('fusermount', ['-uz', mountpoint]));
  rmSync(mountpoint, { recursive: true, force: true });
});

describe('the rebuilt fuse-native binding', () => {
  it('reuses per-thread structs when libfuse retires idle threads and starts new ones', async () => {
    let threadsAfterBurst = Infinity;
    let peakThreads = 0;
    const names = Array.from({ length: 40 }, (_, i) => `${mountpoint}/n${i}`);
    await run('stat', ['-c', '%s', ...names]);
    for (let burst = 0; burst < 6; burst++) {
      // 40 processes at once, each stat-ing its own name 25 times.
      const child = run('bash', ['-c', 'xargs -P 40 -n 25 stat -c %s > /dev/null'], { timeout: 60_000 });
      child.child.stdin!.end(names.flatMap((n) => Array(25).fill(n)).join('\n'));
      const sample = setInterval(() => { peakThreads = Math.max(peakThreads, osThreads()); }, 2);
      await child;
      clearInterval(sample);
      await new Promise((r) => setTimeout(r, 300));
      threadsAfterBurst = Math.min(threadsAfterBurst, osThreads());
    }
    // The load needed many threads at once, and libfuse retired idle ones in
    // between, so later bursts started new threads...
    expect(peakInFlight).toBeGreaterThanOrEqual(20);
    expect(peakThreads - threadsAfterBurst).toBeGreaterThanOrEqual(10);
    // ...which took retired structs: there are no more than threads ever ran at once.
    expect(threadStructs()).toBeLessThanOrEqual(peakThreads);
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
