// How fsync makes commits durable, read from the test run's private server
// (innodb_flush_log_at_trx_commit=2, reached by its unix socket).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncIsDurable, readCommitDurability } from '../../schema/durability.js';
import { freshDatabase, testHome, type TestDb } from '../helpers/db.js';

let t: TestDb;

beforeAll(async () => {
  t = await freshDatabase();
});
afterAll(async () => {
  await t?.drop();
});

describe('readCommitDurability', () => {
  it("finds the local server's setting and its redo log file", async () => {
    const d = await readCommitDurability(t.db);
    expect(d.setting).toBe(2);
    expect(d.redoLog).toBe(join(testHome().dataDir, 'ib_logfile0'));
    expect(existsSync(d.redoLog!)).toBe(true);
    expect(fsyncIsDurable(d)).toBe(true);
  });

  it('counts an fsync durable only when the server syncs every commit or dbos can sync its log', () => {
    expect(fsyncIsDurable({ setting: 1 })).toBe(true);
    expect(fsyncIsDurable({ setting: 2 })).toBe(false);
    expect(fsyncIsDurable({ setting: 0 })).toBe(false);
    expect(fsyncIsDurable({ setting: 0, redoLog: '/x/ib_logfile0' })).toBe(true);
  });
});
