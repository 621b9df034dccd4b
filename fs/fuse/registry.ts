// One JSON record per running mount daemon in $DBOS_HOME/run, so that
// `dbos umount` and `dbos status` can find the daemon behind a mount point.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DbosHome } from '../../schema/home.js';
import { isRunning } from '../../schema/process.js';

export interface MountRecord {
  pid: number;
  mountpoint: string;
  /** The database, password redacted. */
  database: string;
  log: string;
  startedAt: string;
}

function recordFile(home: DbosHome, mountpoint: string): string {
  return join(home.runDir, `mount-${createHash('sha256').update(mountpoint).digest('hex').slice(0, 16)}.json`);
}

/** The log file of the daemon for `mountpoint`. */
export function mountLog(home: DbosHome, mountpoint: string): string {
  return join(home.logsDir, `mount-${createHash('sha256').update(mountpoint).digest('hex').slice(0, 16)}.log`);
}

export function saveRecord(home: DbosHome, r: MountRecord): void {
  writeFileSync(recordFile(home, r.mountpoint), JSON.stringify(r, null, 2) + '\n', { mode: 0o600 });
}

export function removeRecord(home: DbosHome, mountpoint: string, pid: number): void {
  const r = readRecord(home, mountpoint);
  if (r && r.pid === pid) rmSync(recordFile(home, mountpoint), { force: true });
}

export function readRecord(home: DbosHome, mountpoint: string): MountRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordFile(home, mountpoint), 'utf8')) as MountRecord;
  } catch {
    return undefined;
  }
}

export function allRecords(home: DbosHome): MountRecord[] {
  let names: string[];
  try {
    names = readdirSync(home.runDir);
  } catch {
    return [];
  }
  return names.filter((n) => n.startsWith('mount-') && n.endsWith('.json')).flatMap((n) => {
    try {
      return [JSON.parse(readFileSync(join(home.runDir, n), 'utf8')) as MountRecord];
    } catch {
      return [];
    }
  });
}

/**
 * The mounts of this home whose daemons still run against the database
 * labelled `database` (any private server's label when it starts with "private").
 */
export function liveMountsOf(home: DbosHome, database: string): MountRecord[] {
  const same = database.startsWith('private') ? (r: MountRecord) => r.database.startsWith('private') : (r: MountRecord) => r.database === database;
  return allRecords(home).filter((r) => same(r) && alive(r.pid));
}

/** True if the mount daemon `pid` still runs (it is a node process). */
export function alive(pid: number): boolean {
  return isRunning(pid, /^(node|dbos)/);
}
