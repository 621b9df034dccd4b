// What every benchmark command shares: a scratch database next to the target one.
import type { Db } from '../../schema/db.js';
import type { DbTarget } from '../../schema/url.js';
import { CliError } from '../errors.js';

/** A scratch database next to the target one, created fresh for a benchmark. */
export async function scratchDatabase(admin: Db, base: DbTarget, name: string): Promise<DbTarget> {
  try {
    await dropScratchDatabase(admin, name);
    await admin.text(`CREATE DATABASE ${name}`);
  } catch (e) {
    throw new CliError(`the benchmark needs to create the database ${name} on that server: ${(e as Error).message}`);
  }
  return { ...base, database: name };
}

/** Drops a benchmark's database: gigabytes of rows after dbos bench fs, so it may take a while. */
export async function dropScratchDatabase(admin: Db, name: string): Promise<void> {
  await admin.text(`DROP DATABASE IF EXISTS ${name}`, { timeoutMs: 600_000 });
}
