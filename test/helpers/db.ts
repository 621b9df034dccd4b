// A fresh database on the test run's private server, for one test file.
import { randomBytes } from 'node:crypto';
import { Db, type DbOptions } from '../../schema/db.js';
import { dbosHome, type DbosHome } from '../../schema/home.js';
import { migrate, type InitOptions } from '../../schema/migrations.js';
import { privateTarget } from '../../schema/server.js';
import type { DbTarget } from '../../schema/url.js';

export function testHome(): DbosHome {
  const root = process.env.DBOS_TEST_HOME;
  if (!root) throw new Error('DBOS_TEST_HOME is not set: run the tests through vitest (global setup)');
  return dbosHome({ DBOS_HOME: root });
}

export interface TestDb {
  db: Db;
  target: DbTarget;
  /** mysql://… URL of this database, for CLI and daemons under test. */
  url: string;
  drop(): Promise<void>;
}

export async function freshDatabase(init: InitOptions = {}, opts: DbOptions = {}): Promise<TestDb> {
  const home = testHome();
  const admin = new Db(privateTarget(home));
  const name = `t_${randomBytes(6).toString('hex')}`;
  await admin.text(`CREATE DATABASE ${name}`);
  await admin.close();
  const target = { ...privateTarget(home), database: name };
  const db = new Db(target, opts);
  await migrate(db, init);
  const url = `mysql://${encodeURIComponent(target.user)}:${encodeURIComponent(target.password)}@localhost/${name}?socket=${encodeURIComponent(home.socket)}`;
  return {
    db, target, url,
    async drop() {
      await db.text(`DROP DATABASE ${name}`).catch(() => undefined);
      await db.close();
    },
  };
}
