// Which database a command talks to: --db URL, else $DBOS_DB_URL, else the
// private server under $DBOS_HOME (which `dbos up` starts).
import { Db } from '../schema/db.js';
import { dbosHome, type DbosHome } from '../schema/home.js';
import { privateTarget, serverStatus } from '../schema/server.js';
import { describeTarget, parseDbUrl, redactUrl, type DbTarget } from '../schema/url.js';
import { CliError } from './errors.js';

export interface Resolved {
  target: DbTarget;
  /** Printable, password-free description. */
  label: string;
  /** True when it is the private server. */
  private: boolean;
  home: DbosHome;
}

export function resolveTarget(dbUrl: string | undefined): Resolved {
  const home = dbosHome();
  const url = dbUrl ?? process.env.DBOS_DB_URL;
  if (url) {
    const target = parseDbUrl(url);
    return { target, label: redactUrl(url), private: false, home };
  }
  const status = serverStatus(home);
  if (!status.running) {
    throw new CliError(`the private database is not running (DBOS_HOME=${home.root}); run "dbos up" first, or pass --db mysql://….`);
  }
  const target = privateTarget(home);
  return { target, label: `private server (${describeTarget(target)})`, private: true, home };
}

/** Opens the database and checks that it answers, with a clear sentence if not. */
export async function connect(r: Resolved): Promise<Db> {
  const db = new Db(r.target);
  try {
    await db.rows('SELECT 1 AS ok');
  } catch (e) {
    await db.close();
    throw e;
  }
  return db;
}
