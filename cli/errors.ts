// Every failure a user can cause ends as one plain sentence on stderr and a
// non-zero exit; stack traces are for bugs only (DBOS_DEBUG=1 shows them).
import { DbUnavailableError } from '../schema/db.js';
import { SchemaError } from '../schema/migrations.js';
import { ServerError } from '../schema/server.js';
import { DbUrlError } from '../schema/url.js';
import { FsError } from '../fs/errors.js';
import { MountpointError } from '../fs/fuse/mountpoint.js';
import { IpcError } from '../ipc/sql.js';
import { PolicyError } from '../sched/policies.js';
import { TaskError } from '../sched/tasks.js';

export class CliError extends Error {}

const EXPECTED = [CliError, DbUrlError, ServerError, SchemaError, MountpointError, TaskError, PolicyError, IpcError];

function sentence(text: string): string {
  const t = text.trim().replace(/\s+/g, ' ');
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

/** One sentence for any error (never containing a password). */
export function describeError(e: unknown): string {
  if (EXPECTED.some((cls) => e instanceof cls)) return sentence((e as Error).message);
  if (e instanceof FsError) return sentence(`${e.path ?? 'filesystem'}: ${e.code}`);
  if (e instanceof DbUnavailableError) return sentence(`cannot reach the database: ${causeOf(e)}`);
  const err = e as { code?: string; sqlMessage?: string; message?: string };
  switch (err.code) {
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_DBACCESS_DENIED_ERROR':
      return 'the database refused the login; check the user and password in the URL.';
    case 'ER_BAD_DB_ERROR':
      return sentence(`the database does not exist on that server (${err.sqlMessage ?? ''})`);
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
    case 'ENOENT':
      return sentence(`cannot reach the database server (${err.code})`);
  }
  if (err.sqlMessage) return sentence(`SQL error: ${err.sqlMessage}`);
  return sentence(err.message ?? String(e));
}

function causeOf(e: DbUnavailableError): string {
  const c = e.cause as { code?: string; message?: string } | undefined;
  return c?.code ?? c?.message ?? e.message;
}

export function isExpected(e: unknown): boolean {
  return EXPECTED.some((cls) => e instanceof cls) || e instanceof FsError || e instanceof DbUnavailableError
    || typeof (e as { code?: unknown })?.code === 'string';
}
