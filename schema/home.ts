// Where dbos keeps its state on this machine: $DBOS_HOME (default ~/.dbos).
// The private database, its socket, the mount daemons' pid files and all logs
// live below it, so two users (or two test runs) never share anything.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';

export interface DbosHome {
  root: string;
  dataDir: string;      // MariaDB data directory
  socket: string;       // MariaDB unix socket
  serverPidFile: string;
  serverLog: string;
  secretFile: string;   // password of the private server's dbos account (mode 0600)
  logsDir: string;
  runDir: string;       // one JSON record per mount daemon
}

export function dbosHome(env: NodeJS.ProcessEnv = process.env): DbosHome {
  const root = resolve(env.DBOS_HOME || join(homedir(), '.dbos'));
  return {
    root,
    dataDir: join(root, 'mariadb'),
    socket: join(root, 'mariadb.sock'),
    serverPidFile: join(root, 'mariadb.pid'),
    serverLog: join(root, 'logs', 'mariadb.log'),
    secretFile: join(root, 'db.secret'),
    logsDir: join(root, 'logs'),
    runDir: join(root, 'run'),
  };
}

/** Creates the home directory tree, private to its owner. */
export function ensureHome(home: DbosHome): void {
  for (const dir of [home.root, home.logsDir, home.runDir]) mkdirSync(dir, { recursive: true, mode: 0o700 });
}
