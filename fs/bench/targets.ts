// The filesystems `dbos bench fs` compares on one machine: ext4 on a
// loop-mounted image the harness makes, bindfs (a FUSE passthrough in C) over
// that ext4, dbos through its FUSE mount, and dbos through the POSIX shim in
// this process (no kernel, no FUSE), as the paper's clients used it. Plus
// fuse-null (null-fs.ts): dbos's FUSE binding serving names and sizes from
// memory, the ceiling for dbos through FUSE.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DbosFs } from '../dbosfs.js';
import type { Db } from '../../schema/db.js';
import { dbosHome } from '../../schema/home.js';
import { targetUrl, type DbTarget } from '../../schema/url.js';
import { DAEMON_NODE_FLAGS } from '../fuse/daemon.js';
import { mountedAt } from '../fuse/mountpoint.js';
import { readRecord } from '../fuse/registry.js';

export type TargetName = 'ext4' | 'bindfs' | 'fuse-null' | 'dbos-fuse' | 'dbos-shim';
export const TARGET_NAMES: TargetName[] = ['ext4', 'bindfs', 'fuse-null', 'dbos-fuse', 'dbos-shim'];

/** A filesystem reached through the kernel: a directory and the daemon serving it (none for ext4). */
export interface MountedTarget {
  name: Exclude<TargetName, 'dbos-shim'>;
  dir: string;
  /** The FUSE daemon whose memory is measured. */
  daemonPid?: number;
}

export interface Targets {
  mounted: MountedTarget[];
  shim: DbosFs;
  /** Empties the page cache so that reads come from the filesystem, not the kernel. */
  dropCaches(): void;
  close(): Promise<void>;
}

export interface TargetOptions {
  /** Where the ext4 image, bindfs and dbos mount points go. */
  workDir: string;
  imageGiB: number;
  /** Use this ext4 directory instead of making an image. */
  ext4Dir?: string;
  dbTarget: DbTarget;
  db: Db;
  log: (m: string) => void;
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

async function waitFor(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Why `dir` cannot be the ext4 target (one sentence), or null if it can. */
export function ext4DirProblem(dir: string): string | null {
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return `${dir} is not a directory.`;
  const type = spawnSync('findmnt', ['-no', 'FSTYPE', '-T', dir], { encoding: 'utf8' });
  const fsType = type.status === 0 ? type.stdout.trim() : 'an unknown filesystem';
  return fsType === 'ext4' ? null : `${dir} is on ${fsType}, not ext4.`;
}

export async function openTargets(o: TargetOptions, cli: string): Promise<Targets> {
  const undo: (() => void | Promise<void>)[] = [];
  const close = async () => {
    for (const u of undo.reverse()) {
      try {
        await u();
      } catch (e) {
        o.log(`cleanup: ${(e as Error).message}`);
      }
    }
  };
  try {
    mkdirSync(o.workDir, { recursive: true });
    let ext4 = o.ext4Dir;
    if (!ext4) {
      const image = join(o.workDir, 'ext4.img');
      ext4 = join(o.workDir, 'ext4');
      mkdirSync(ext4, { recursive: true });
      run('truncate', ['-s', `${o.imageGiB}G`, image]);
      run('mkfs.ext4', ['-q', '-F', image]);
      run('mount', ['-o', 'loop', image, ext4]);
      undo.push(() => rmSync(image, { force: true }));
      undo.push(() => void run('umount', [ext4!]));
    }
    const problem = ext4DirProblem(ext4);
    if (problem) throw new Error(problem);
    const ext4Data = join(ext4, 'dbos-bench');
    mkdirSync(ext4Data, { recursive: true });
    undo.push(() => rmSync(ext4Data, { recursive: true, force: true }));

    const bindMp = join(o.workDir, 'bindfs');
    mkdirSync(bindMp, { recursive: true });
    // -f keeps bindfs attached so that its pid is ours to measure; allow_other as dbos mounts.
    const bind = spawn('bindfs', ['-f', '-o', 'allow_other', ext4Data, bindMp], { stdio: 'ignore' });
    undo.push(async () => {
      spawnSync('fusermount', ['-u', bindMp]);
      if (bind.exitCode === null) bind.kill('SIGTERM');
    });
    await waitFor('the bindfs mount', () => mountedAt(bindMp)?.fstype === 'fuse' || mountedAt(bindMp)?.fstype === 'fuse.bindfs');

    const nullMp = join(o.workDir, 'fuse-null');
    mkdirSync(nullMp, { recursive: true });
    const nullFs = spawn(process.execPath, [...DAEMON_NODE_FLAGS, join(dirname(fileURLToPath(import.meta.url)), 'null-fs.js'), nullMp], { stdio: 'ignore' });
    undo.push(async () => {
      if (nullFs.exitCode === null) nullFs.kill('SIGTERM');
      await waitFor('fuse-null to exit', () => nullFs.exitCode !== null, 10_000).catch(() => undefined);
      // A fuse-null that died leaves its mount behind, and the work directory could not be removed.
      if (mountedAt(nullMp)) spawnSync('fusermount', ['-uz', nullMp]);
    });
    await waitFor('the fuse-null mount', () => mountedAt(nullMp)?.fstype === 'fuse.dbos');

    const home = dbosHome({ DBOS_HOME: join(o.workDir, 'dbos-home') });
    const dbosMp = join(o.workDir, 'dbos');
    mkdirSync(dbosMp, { recursive: true });
    const env = { ...process.env, DBOS_HOME: home.root, DBOS_DB_URL: targetUrl(o.dbTarget) };
    const m = spawnSync(process.execPath, [cli, 'mount', dbosMp], { env, encoding: 'utf8' });
    if (m.status !== 0) throw new Error(`dbos mount failed: ${m.stderr.trim()}`);
    undo.push(() => {
      const u = spawnSync(process.execPath, [cli, 'umount', dbosMp], { env, encoding: 'utf8' });
      if (u.status !== 0) spawnSync('fusermount', ['-uz', dbosMp]);
    });
    const record = readRecord(home, dbosMp);
    // The mount and the shim share one database; each works in its own top directory.
    mkdirSync(join(dbosMp, 'fuse'), { recursive: true });
    const shim = await DbosFs.open(o.db, { checkPermissions: false });
    undo.push(() => shim.close());
    await shim.mkdir('/shim', 0o755).catch((e) => { if (e.code !== 'EEXIST') throw e; });

    // bindfs shows the same ext4 directory: each target works in its own subdirectory.
    for (const d of [join(ext4Data, 'ext4'), join(bindMp, 'bindfs'), join(nullMp, 'null')]) mkdirSync(d, { recursive: true });
    return {
      mounted: [
        { name: 'ext4', dir: join(ext4Data, 'ext4') },
        { name: 'bindfs', dir: join(bindMp, 'bindfs'), daemonPid: bind.pid },
        { name: 'fuse-null', dir: join(nullMp, 'null'), daemonPid: nullFs.pid },
        { name: 'dbos-fuse', dir: join(dbosMp, 'fuse'), daemonPid: record?.pid },
      ],
      shim,
      dropCaches() {
        // Twice: the first sync writes ext4 into its loop device, which leaves
        // the image file's own pages dirty (and dirty pages are not dropped).
        spawnSync('sync');
        spawnSync('sync');
        try {
          writeFileSync('/proc/sys/vm/drop_caches', '3');
        } catch {
          // not root: reads may be served from the page cache; results.json says so
        }
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** A process's command line as the kernel reports it, or null if it is gone. */
export function commandLine(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return null;
  }
}

/**
 * Peak resident memory of a process over an interval: resets the kernel's
 * high-water mark (VmHWM) at start and reads it at the end.
 */
export function peakRss(pid: number | undefined): { stop(): number | null } {
  if (pid === undefined) {
    let peak = process.memoryUsage().rss;
    const t = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 100);
    return { stop() { clearInterval(t); return Math.max(peak, process.memoryUsage().rss); } };
  }
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // without the reset the peak covers the daemon's whole life
  }
  return {
    stop() {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        return m ? Number(m[1]) * 1024 : null;
      } catch {
        return null;
      }
    },
  };
}
