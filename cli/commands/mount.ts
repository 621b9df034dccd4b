// dbos mount / umount. `mount` checks everything it can in the foreground
// (mount point, database, schema), then starts the daemon and waits until it
// has mounted, so every failure is reported here with a non-zero exit.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { Command } from 'commander';
import { dbosHome, ensureHome } from '../../schema/home.js';
import { fileLogger } from '../../schema/log.js';
import { requireCurrentSchema } from '../../schema/migrations.js';
import { DAEMON_NODE_FLAGS, serve } from '../../fs/fuse/daemon.js';
import { canonical, fusermount, mountedAt, mountpointState, requireMountable } from '../../fs/fuse/mountpoint.js';
import { alive, mountLog, readRecord } from '../../fs/fuse/registry.js';
import { CLI_ENTRY } from '../entry.js';
import { CliError, describeError } from '../errors.js';
import { connect, resolveTarget } from '../target.js';

export function registerMountCommands(program: Command): void {
  program.command('mount')
    .argument('<mountpoint>', 'an empty directory')
    .description('mount the filesystem (as a daemon, logging under $DBOS_HOME/logs)')
    .option('--db <url>', 'the database to mount instead of the private server')
    .option('--foreground', 'stay attached; Ctrl-C unmounts')
    .option('--daemon-child', 'internal: run as the daemon started by dbos mount')
    .action(async (mp: string, o: { db?: string; foreground?: boolean; daemonChild?: boolean }) => {
      const r = resolveTarget(o.db);
      const mountpoint = requireMountable(mp);
      const db = await connect(r);
      try {
        await requireCurrentSchema(db);
      } finally {
        await db.close();
      }
      ensureHome(r.home);
      const logFile = mountLog(r.home, mountpoint);
      if (o.foreground || o.daemonChild) {
        await runDaemon(mountpoint, r, logFile, !!o.daemonChild);
        return;
      }
      await startDaemon(mountpoint, o.db, logFile);
      console.log(`mounted ${mountpoint} (${r.label}); log: ${logFile}`);
    });

  program.command('umount')
    .alias('unmount')
    .argument('<mountpoint>')
    .description('unmount: waits for the daemon to commit buffered writes and exit')
    .action(async (mp: string) => {
      const home = dbosHome();
      const mountpoint = canonical(mp);
      const rec = readRecord(home, mountpoint);
      const info = mountedAt(mountpoint);
      const daemon = rec && alive(rec.pid) ? rec.pid : undefined;
      if (!info && !daemon) throw new CliError(`${mountpoint} is not mounted.`);
      if (info && info.fstype !== 'fuse.dbos') throw new CliError(`${mountpoint} is not a dbos mount (it is ${info.fstype}).`);
      if (!daemon) {
        if (mountpointState(mountpoint) !== 'stale') {
          throw new CliError(`${mountpoint} is served by a dbos daemon not recorded in ${home.root} (another DBOS_HOME?); use that DBOS_HOME, or fusermount -u ${mountpoint}.`);
        }
        await fusermount(mountpoint, true);
        console.log(`removed the stale mount at ${mountpoint} (its daemon had died).`);
        return;
      }
      if (info) await fusermount(mountpoint, false);
      process.kill(daemon, 'SIGTERM');
      for (let i = 0; i < 600 && alive(daemon); i++) await new Promise((res) => setTimeout(res, 100));
      if (alive(daemon)) throw new CliError(`the daemon (pid ${daemon}) is still committing writes after 60 s; see ${rec!.log}.`);
      console.log(`unmounted ${mountpoint}.`);
    });
}

/** Spawns `dbos mount --daemon-child` detached and waits for it to say it has mounted. */
async function startDaemon(mountpoint: string, dbUrl: string | undefined, logFile: string): Promise<void> {
  const out = openSync(logFile, 'a', 0o600);
  // The URL travels in the environment, never in argv, so ps cannot show a password.
  const env = { ...process.env, ...(dbUrl ? { DBOS_DB_URL: dbUrl } : {}) };
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, CLI_ENTRY, 'mount', mountpoint, '--daemon-child'], {
    detached: true, stdio: ['ignore', out, out, 'ipc'], env,
  });
  closeSync(out);
  const outcome = await new Promise<{ ok: boolean; message?: string }>((resolve) => {
    const timer = setTimeout(() => resolve({ ok: false, message: `the mount daemon did not report within 60 s; see ${logFile}.` }), 60_000);
    child.once('message', (m: { ready?: boolean; error?: string }) => {
      clearTimeout(timer);
      resolve(m.ready ? { ok: true } : { ok: false, message: m.error });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ ok: false, message: `the mount daemon exited (code ${code}); see ${logFile}.` });
    });
  });
  if (!outcome.ok) {
    if (child.exitCode === null) child.kill('SIGTERM');
    throw new CliError(outcome.message ?? 'the mount failed.');
  }
  child.disconnect();
  child.unref();
}

async function runDaemon(mountpoint: string, r: ReturnType<typeof resolveTarget>, logFile: string, child: boolean): Promise<void> {
  const logger = fileLogger('dbos-mount', logFile);
  let serving;
  try {
    serving = await serve({
      mountpoint, target: r.target, databaseLabel: r.label, home: r.home, logFile, logger,
      dataDir: r.private ? r.home.dataDir : undefined,
    });
  } catch (e) {
    logger.error({ err: (e as Error).message }, 'mount failed');
    if (child && process.send) process.send({ error: describeError(e) });
    throw e;
  }
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void serving.stop(sig));
  // A rejection nobody handled is a bug, but ending the daemon would unmount
  // the filesystem under its users and lose buffered writes: log it loudly.
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason instanceof Error ? reason.message : String(reason) }, 'unhandled rejection (a bug in dbos); the mount goes on');
  });
  if (child && process.send) {
    process.send({ ready: true });
    process.disconnect?.();
  } else {
    console.log(`mounted ${mountpoint} (${r.label}); Ctrl-C unmounts. Log: ${logFile}`);
  }
  await serving.stopped;
  // Nothing is left to do: exit without waiting for the event loop to empty.
  logger.flush();
  process.exit(0);
}
