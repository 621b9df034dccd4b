// Database URLs: mysql://user:password@host:port/database[?socket=/path].
// The password is only ever held in the parsed object; everything printed or
// logged goes through redactUrl.

export interface DbTarget {
  user: string;
  password: string;
  host?: string;
  port?: number;
  socketPath?: string;
  database: string;
}

export class DbUrlError extends Error {}

export function parseDbUrl(text: string): DbTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DbUrlError(`"${redactUrl(text)}" is not a database URL; expected mysql://user:password@host:port/database.`);
  }
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') {
    throw new DbUrlError(`database URL must start with mysql:// (got ${url.protocol}//).`);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!database || database.includes('/')) {
    throw new DbUrlError('database URL must name one database, as in mysql://user:password@host:3306/dbos.');
  }
  if (!/^[A-Za-z0-9_$]+$/.test(database)) {
    throw new DbUrlError(`database name "${database}" may only contain letters, digits, _ and $.`);
  }
  const user = decodeURIComponent(url.username);
  if (!user) throw new DbUrlError('database URL must name a user, as in mysql://user:password@host/dbos.');
  const socketPath = url.searchParams.get('socket') ?? undefined;
  const port = url.port ? Number(url.port) : undefined;
  return {
    user,
    password: decodeURIComponent(url.password),
    database,
    ...(socketPath ? { socketPath } : { host: url.hostname || 'localhost', port: port ?? 3306 }),
  };
}

/** The URL with any password replaced, safe for logs, errors and `dbos status`. */
export function redactUrl(text: string): string {
  return text.replace(/^([a-z]+:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

export function describeTarget(t: DbTarget): string {
  const where = t.socketPath ? `socket ${t.socketPath}` : `${t.host}:${t.port}`;
  return `${t.user}@${where}/${t.database}`;
}

/** The URL for a target (with its password: give it to child processes through their environment only). */
export function targetUrl(t: DbTarget): string {
  const auth = `${encodeURIComponent(t.user)}${t.password ? `:${encodeURIComponent(t.password)}` : ''}`;
  return t.socketPath
    ? `mysql://${auth}@localhost/${t.database}?socket=${encodeURIComponent(t.socketPath)}`
    : `mysql://${auth}@${t.host}:${t.port}/${t.database}`;
}
