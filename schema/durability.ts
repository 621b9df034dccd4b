// What an fsync(2) on dbos does so that the commits before it survive a power
// cut. InnoDB's innodb_flush_log_at_trx_commit decides when the redo log
// reaches the disk: 1 syncs it at every commit; 2 (the private server's
// default) writes it to the OS at commit and syncs it about once a second; 0
// writes and syncs it once a second. FLUSH ENGINE LOGS writes the log out but,
// in MariaDB 10.11, syncs it only under setting 1 (strace shows no fdatasync),
// so under 0 and 2 dbos syncs the log file itself, which it can when the server
// runs on this machine (reached by its unix socket, as the private server is).
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Db } from './db.js';
import { processHoldsFile, readPid } from './process.js';

export interface CommitDurability {
  /** The server's innodb_flush_log_at_trx_commit (0, 1 or 2). */
  setting: number;
  /** The server's redo log, when it is a file here that dbos can sync itself. */
  redoLog?: string;
}

/** Reads how the server makes commits durable, and where its redo log is. */
export async function readCommitDurability(db: Db): Promise<CommitDurability> {
  // A server without these variables (not InnoDB) is taken as setting 2 with no log to sync.
  const [row] = await db.rows<{ setting: number; datadir: string; logDir: string; pidFile: string }>(
    'SELECT @@GLOBAL.innodb_flush_log_at_trx_commit AS setting, @@datadir AS datadir, @@innodb_log_group_home_dir AS logDir, @@pid_file AS pidFile')
    .catch(() => []);
  const setting = Number(row?.setting ?? 2);
  if (setting === 1 || !db.target.socketPath || !row) return { setting };
  // MariaDB 10.5 and later keep one redo log file. The server's paths are
  // its own: a server in a container that shares only its socket names files
  // that are something else here, so the file counts only if the server's
  // process has it open.
  const redoLog = resolve(row.datadir, row.logDir || '.', 'ib_logfile0');
  const pid = readPid(resolve(row.datadir, row.pidFile));
  return pid !== undefined && processHoldsFile(pid, redoLog) ? { setting, redoLog } : { setting };
}

/** Whether makeCommitsDurable puts every commit made before it on disk. */
export function fsyncIsDurable(d: CommitDurability): boolean {
  return d.setting === 1 || d.redoLog !== undefined;
}

/**
 * Puts on disk every commit that returned before this call: the server writes
 * out its log buffer (setting 0 keeps commits there), then dbos syncs the log
 * file. `onFlushError` hears a failed FLUSH ENGINE LOGS (it needs the RELOAD
 * privilege); the sync still happens, and under setting 2 it is enough.
 */
export async function makeCommitsDurable(db: Db, d: CommitDurability, onFlushError: (e: unknown) => void): Promise<void> {
  if (d.setting === 1) return;
  await db.text('FLUSH ENGINE LOGS').catch(onFlushError);
  if (!d.redoLog) return;
  const log = await open(d.redoLog, 'r');
  try {
    await log.datasync();
  } finally {
    await log.close();
  }
}
