// The mount daemon: opens the shim on the database, mounts it with FUSE, and
// on SIGINT/SIGTERM/SIGHUP (or when someone else unmounts it) unmounts,
// commits every buffered write and exits.
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Db } from '../../schema/db.js';
import type { DbosHome } from '../../schema/home.js';
import type { Logger } from '../../schema/log.js';
import type { DbTarget } from '../../schema/url.js';
import { MailboxFiles } from '../../ipc/mailbox-files.js';
import { DbosFs } from '../dbosfs.js';
import { Identities } from '../identity.js';
import * as users from '../sql/users.js';
import { processCaller } from '../permissions.js';
import { fuseOps } from './adapter.js';
import { fusermount, mountedAt, requireMountable } from './mountpoint.js';
import { DbosFuse } from './native.js';
import { removeRecord, saveRecord } from './registry.js';

/**
 * Node flags for the daemon. Block bytes are Buffers outside V8's heap, yet
 * they count towards its old generation, whose first limit is small: a
 * stream of reads then ran a full collection every few MiB (about 80 per GiB,
 * a third of the daemon's CPU). A first limit of 128 MB leaves about 17 per
 * GiB (cold reads 30-50% faster; creates and deletes 6-8% slower, README);
 * the caches' limits, not the collector, bound the daemon's memory. `dbos
 * bench fs` runs its shim target and fuse-null under the same flags, so that
 * the targets compare under one runtime.
 */
export const DAEMON_NODE_FLAGS = ['--initial-old-space-size=128'];

export interface ServeOptions {
  mountpoint: string;
  target: DbTarget;
  /** The database as it may be shown (password redacted). */
  databaseLabel: string;
  home: DbosHome;
  logFile: string;
  logger: Logger;
  /** The private server's data directory, for statfs. */
  dataDir?: string;
}

/** allow_other lets other users in; a non-root user needs user_allow_other in /etc/fuse.conf. */
function canAllowOther(): boolean {
  if (process.getuid?.() === 0) return true;
  try {
    return /^\s*user_allow_other\s*$/m.test(readFileSync('/etc/fuse.conf', 'utf8'));
  } catch {
    return false;
  }
}

export interface ServingMount {
  shim: DbosFs;
  /** Resolves when the daemon has unmounted and flushed. */
  stopped: Promise<void>;
  stop(reason: string): Promise<void>;
}

export async function serve(opts: ServeOptions): Promise<ServingMount> {
  const log = opts.logger;
  const mountpoint = requireMountable(opts.mountpoint);
  const db = new Db(opts.target);
  let shim: DbosFs;
  try {
    shim = await DbosFs.open(db, { checkPermissions: false, logger: log, dataDir: opts.dataDir, caller: processCaller() });
  } catch (e) {
    await db.close();
    throw e;
  }
  const ids = new Identities(db, Math.max(1, await users.partitions(db)));
  await ids.reload();
  const mailboxes = new MailboxFiles(db, opts.home, ids);
  await mailboxes.start();
  const fuse: DbosFuse = new DbosFuse(mountpoint, fuseOps(shim, () => fuse.caller, log, mailboxes), {
    allowOther: canAllowOther(), attrTimeout: 1, entryTimeout: 1, timeoutMs: 60_000,
  });
  try {
    await promisify((cb: (err: Error | null) => void) => fuse.mount(cb))();
  } catch (e) {
    await shim.close().catch(() => undefined);
    await db.close();
    throw new Error(`FUSE could not mount ${mountpoint}: ${(e as Error).message}`);
  }
  saveRecord(opts.home, { pid: process.pid, mountpoint, database: opts.databaseLabel, log: opts.logFile, startedAt: new Date().toISOString() });
  log.info({ mountpoint, database: opts.databaseLabel }, 'mounted');

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => { resolveStopped = r; });
  let stopping: Promise<void> | null = null;

  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason }, 'unmounting');
      clearInterval(watch);
      if (mountedAt(mountpoint)?.fstype === 'fuse.dbos') {
        try {
          await fusermount(mountpoint, false);
        } catch {
          // Files are still open: detach now, let those handles finish briefly.
          await fusermount(mountpoint, true).catch((e) => log.warn({ err: e.message }, 'lazy unmount failed'));
          for (let i = 0; i < 50 && shim.stats().handles > 0; i++) await new Promise((r) => setTimeout(r, 100));
        }
      }
      await mailboxes.close().catch(() => undefined);
      try {
        await shim.close();
      } catch (e) {
        log.error({ err: (e as Error).message, ...shim.stats() }, 'buffered writes could not be committed');
      }
      await db.close();
      removeRecord(opts.home, mountpoint, process.pid);
      log.info('stopped');
      resolveStopped();
    })();
    return stopping;
  };

  // Someone ran umount/fusermount directly: nothing more will come, so stop.
  const watch = setInterval(() => {
    if (mountedAt(mountpoint)?.fstype !== 'fuse.dbos') void stop('unmounted from outside');
  }, 2000);
  return { shim, stopped, stop };
}
