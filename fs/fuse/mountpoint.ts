// Facts about a mount point: whether it exists, is empty, is mounted (by us or
// by anything else) or is a stale FUSE mount whose daemon died, and the
// fusermount calls that unmount it.
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export class MountpointError extends Error {}

export interface MountInfo {
  mountpoint: string;
  fstype: string;
  source: string;
}

/** Mount points from /proc/self/mountinfo, with their octal escapes decoded. */
export function mounts(): MountInfo[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((line) => {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    return { mountpoint: unescape(fields[4]!), fstype: fields[dash + 1]!, source: unescape(fields[dash + 2]!) };
  });
}

export function mountedAt(path: string): MountInfo | undefined {
  return mounts().filter((m) => m.mountpoint === path).pop();
}

export type MountpointState = 'missing' | 'not-a-directory' | 'stale' | 'mounted' | 'not-empty' | 'ready';

/** The absolute path of a mount point as the mount table spells it (symlinks resolved when possible). */
export function canonical(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    return abs;
  }
}

export function mountpointState(path: string): MountpointState {
  const abs = canonical(path);
  try {
    if (!statSync(abs).isDirectory()) return 'not-a-directory';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTCONN' || code === 'ECONNABORTED') return 'stale';
    if (code === 'ENOENT') return mountedAt(abs) ? 'stale' : 'missing';
    throw e;
  }
  if (mountedAt(abs)) return 'mounted';
  if (readdirSync(abs).length > 0) return 'not-empty';
  return 'ready';
}

/** Throws a one-sentence MountpointError unless `path` can be mounted on. */
export function requireMountable(path: string): string {
  const abs = canonical(path);
  const state = mountpointState(abs);
  const sentences: Record<Exclude<MountpointState, 'ready'>, string> = {
    missing: `mount point ${abs} does not exist; create it with mkdir first.`,
    'not-a-directory': `mount point ${abs} is not a directory.`,
    stale: `${abs} is a stale mount whose daemon has died; run "dbos umount ${abs}" first.`,
    mounted: `${abs} is already mounted (${mountedAt(abs)?.fstype ?? 'unknown'}); unmount it first.`,
    'not-empty': `mount point ${abs} is not empty; choose an empty directory.`,
  };
  if (state !== 'ready') throw new MountpointError(sentences[state]);
  return abs;
}

/** fusermount -u (or -uz: lazy, detaches even while files are open). */
export async function fusermount(path: string, lazy: boolean): Promise<void> {
  try {
    await run('fusermount', ['-u', ...(lazy ? ['-z'] : []), '--', path]);
  } catch (e) {
    const stderr = String((e as { stderr?: string }).stderr ?? (e as Error).message).trim();
    if (/busy/i.test(stderr)) throw new MountpointError(`${path} is busy (files are open or a process has its working directory there).`);
    throw new MountpointError(`could not unmount ${path}: ${stderr.replace(/^fusermount: /, '')}`);
  }
}

let recentMounts: { at: number; list: MountInfo[] } | null = null;

/** The path inside the filesystem for a host path on a dbos mount, or null if it is on none. */
export function pathInsideMount(hostPath: string): string | null {
  const abs = canonical(hostPath);
  // Submitting thousands of tasks must not parse the mount table thousands of times.
  if (!recentMounts || Date.now() - recentMounts.at > 1000) recentMounts = { at: Date.now(), list: mounts() };
  const mount = recentMounts.list.filter((m) => m.fstype === 'fuse.dbos' && (abs === m.mountpoint || abs.startsWith(m.mountpoint + '/'))).pop();
  return mount ? '/' + relative(mount.mountpoint, abs) : null;
}
