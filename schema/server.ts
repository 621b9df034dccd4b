// The private MariaDB server: Debian's mariadbd binaries, run by us (not the
// system service), with its data directory and unix socket under $DBOS_HOME and
// networking off, so it never clashes with another MySQL on the machine.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, readFileSync, writeFileSync, rmSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { totalmem, userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { type DbosHome, ensureHome } from './home.js';
import { isRunning, readPid } from './process.js';
import type { DbTarget } from './url.js';

export const PRIVATE_DATABASE = 'dbos';
export const PRIVATE_USER = 'dbos';

export class ServerError extends Error {}

export type Durability = 'fsync' | 'commit';

export interface ServerOptions {
  /** InnoDB buffer pool, e.g. "1G" (DBOS_DB_MEMORY); defaultBufferPool() if neither says. */
  bufferPool?: string;
  /** "fsync": commits reach the OS at once and disk at fsync(), when dbos syncs the redo log (durability.ts);
   *  "commit": every commit is on disk before it returns. */
  durability?: Durability;
  /** Start with an empty buffer pool: otherwise InnoDB reloads the pages it held when it last stopped. */
  emptyBufferPool?: boolean;
  /** Seconds to wait for the server to accept connections. */
  startTimeoutSec?: number;
}

export interface ServerStatus {
  running: boolean;
  pid?: number;
  socket: string;
  dataDir: string;
  initialized: boolean;
}

function findBinary(names: string[]): string {
  for (const name of names) {
    for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']) {
      const p = join(dir, name);
      if (existsSync(p)) return p;
    }
  }
  throw new ServerError(`MariaDB is not installed (no ${names.join(' or ')}); run scripts/start or apt-get install mariadb-server.`);
}

/** True if `pid` is a live MariaDB server (not a zombie, not a reused pid). */
function serverAlive(pid: number): boolean {
  return isRunning(pid, /^(mariadbd|mysqld)$/);
}

export function serverStatus(home: DbosHome): ServerStatus {
  const pid = readPid(home.serverPidFile);
  const running = pid !== undefined && serverAlive(pid) && existsSync(home.socket);
  return { running, pid: running ? pid : undefined, socket: home.socket, dataDir: home.dataDir, initialized: existsSync(join(home.dataDir, 'mysql')) };
}

/** The account our own tools use on the private server. */
export function privateTarget(home: DbosHome): DbTarget {
  return { user: PRIVATE_USER, password: readSecret(home), socketPath: home.socket, database: PRIVATE_DATABASE };
}

function readSecret(home: DbosHome): string {
  try {
    return readFileSync(home.secretFile, 'utf8').trim();
  } catch {
    throw new ServerError(`the private database has not been set up in ${home.root}; run "dbos up" first.`);
  }
}

function ensureSecret(home: DbosHome): string {
  if (!existsSync(home.secretFile)) writeFileSync(home.secretFile, randomBytes(24).toString('base64url') + '\n', { mode: 0o600 });
  return readSecret(home);
}

function tailOfLog(file: string, lines = 6): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no server log)';
  }
}

function initializeDataDir(home: DbosHome, runAs: string): void {
  const installDb = findBinary(['mariadb-install-db', 'mysql_install_db']);
  const result = spawnSync(installDb, [
    '--no-defaults', `--datadir=${home.dataDir}`, `--user=${runAs}`,
    '--auth-root-authentication-method=socket', `--auth-root-socket-user=${runAs}`, '--skip-test-db',
  ], { encoding: 'utf8' });
  if (result.status !== 0) {
    rmSync(home.dataDir, { recursive: true, force: true });
    throw new ServerError(`could not initialize the database in ${home.dataDir}: ${(result.stderr || result.stdout).trim().split('\n').pop()}`);
  }
}

/**
 * A quarter of the machine's memory, at least 1 GiB, in whole 128 MiB. The
 * buffer pool is the cache of dbos's file blocks, as the page cache is
 * ext4's: with 1 GiB, Figure 10's 1 GiB of files in 2 KiB rows did not fit,
 * and InnoDB read from disk on every target's turn (README).
 */
export function defaultBufferPool(totalBytes = totalmem()): string {
  const quarterMiB = Math.floor(totalBytes / 4 / 2 ** 27) * 128;
  return `${Math.max(1024, quarterMiB)}M`;
}

/** Server settings; README "Durability" explains the commit setting. */
function serverArgs(home: DbosHome, runAs: string, initFile: string, opts: ServerOptions): string[] {
  return [
    '--no-defaults',
    `--datadir=${home.dataDir}`,
    `--socket=${home.socket}`,
    `--pid-file=${home.serverPidFile}`,
    `--log-error=${home.serverLog}`,
    `--init-file=${initFile}`,
    `--user=${runAs}`,
    '--skip-networking',
    '--skip-name-resolve',
    '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_bin',
    `--innodb-buffer-pool-size=${opts.bufferPool ?? process.env.DBOS_DB_MEMORY ?? defaultBufferPool()}`,
    '--innodb-log-file-size=512M',
    // InnoDB reads a blob's pages one at a time, and does not read ahead
    // through blob pages. Through the kernel's page cache (not O_DIRECT, 10.11's
    // default) the kernel reads ahead in the data file instead: a cold stream
    // of 64 KiB blocks went from about 75 to 190 MiB/s per query (README).
    '--innodb-flush-method=fsync',
    `--innodb-flush-log-at-trx-commit=${opts.durability === 'commit' ? 1 : 2}`,
    // Every create is an INSERT … SELECT, for which the default lock mode (1)
    // holds a table lock on Directory's AUTO_INCREMENT (ino) until the
    // statement ends. Mode 2 takes numbers without it; it is unsafe only for
    // statement-based replication, and this server keeps no binary log.
    '--innodb-autoinc-lock-mode=2',
    '--max-allowed-packet=256M',
    '--max-connections=2000',
    '--max-prepared-stmt-count=1048576',
    '--performance-schema=OFF',
    // Many short transactions from many connections on few cores: a thread
    // pool avoids a context switch per statement (1.5x here, see README).
    '--thread-handling=pool-of-threads',
    ...(opts.emptyBufferPool ? ['--innodb-buffer-pool-load-at-startup=OFF'] : []),
  ];
}

/** Starts the private server if it is not running; idempotent. */
export async function startServer(home: DbosHome, opts: ServerOptions = {}): Promise<ServerStatus> {
  ensureHome(home);
  const status = serverStatus(home);
  if (status.running) return status;
  if (home.socket.length > 100) throw new ServerError(`DBOS_HOME is too deep for a unix socket path (${home.socket}); choose a shorter DBOS_HOME.`);
  rmSync(home.serverPidFile, { force: true });
  rmSync(home.socket, { force: true });

  const mariadbd = findBinary(['mariadbd', 'mysqld']);
  const runAs = userInfo().username;
  if (!status.initialized) initializeDataDir(home, runAs);
  const secret = ensureSecret(home);

  // The init file (re)creates our account at every start, so the secret file is
  // the single source of truth for the password. It is deleted once we are up.
  const initFile = join(home.root, 'init.sql');
  const quoted = secret.replace(/[\\']/g, (c) => '\\' + c);
  writeFileSync(initFile, [
    `CREATE DATABASE IF NOT EXISTS ${PRIVATE_DATABASE};`,
    `CREATE USER IF NOT EXISTS '${PRIVATE_USER}'@'localhost' IDENTIFIED BY '${quoted}';`,
    `ALTER USER '${PRIVATE_USER}'@'localhost' IDENTIFIED BY '${quoted}';`,
    `GRANT ALL PRIVILEGES ON *.* TO '${PRIVATE_USER}'@'localhost' WITH GRANT OPTION;`,
    '',
  ].join('\n'), { mode: 0o600 });

  const logFd = openSync(home.serverLog, 'a', 0o600);
  const child = spawn(mariadbd, serverArgs(home, runAs, initFile, opts), { detached: true, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  let exited: number | null = null;
  child.on('exit', (code) => { exited = code ?? -1; });
  child.unref();

  const deadline = Date.now() + (opts.startTimeoutSec ?? 120) * 1000;
  try {
    for (;;) {
      if (exited !== null) throw new ServerError(`the database server exited during start-up (code ${exited}):\n${tailOfLog(home.serverLog)}`);
      if (await canConnect(home, secret)) break;
      if (Date.now() > deadline) throw new ServerError(`the database server did not accept connections within ${opts.startTimeoutSec ?? 120} s; see ${home.serverLog}.`);
      await sleep(100);
    }
  } finally {
    rmSync(initFile, { force: true });
  }
  return serverStatus(home);
}

async function canConnect(home: DbosHome, password: string): Promise<boolean> {
  if (!existsSync(home.socket)) return false;
  try {
    const c = await mysql.createConnection({ socketPath: home.socket, user: PRIVATE_USER, password, connectTimeout: 2000 });
    await c.end();
    return true;
  } catch {
    return false;
  }
}

/** Stops the private server cleanly (SIGTERM, then waits for InnoDB to shut down). */
export async function stopServer(home: DbosHome, timeoutSec = 120): Promise<boolean> {
  const pid = readPid(home.serverPidFile);
  if (pid === undefined || !serverAlive(pid)) {
    rmSync(home.serverPidFile, { force: true });
    return false;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutSec * 1000;
  while (serverAlive(pid)) {
    if (Date.now() > deadline) throw new ServerError(`the database server (pid ${pid}) did not stop within ${timeoutSec} s.`);
    await sleep(100);
  }
  return true;
}
