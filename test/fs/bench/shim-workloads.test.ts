// The shim's side of Figure 11: readers that go through their files more than
// once reach the database on every pass, and the I/O's window is reported.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbosFs } from '../../../fs/dbosfs.js';
import { streams } from '../../../fs/bench/shim-workloads.js';
import { freshDatabase, type TestDb } from '../../helpers/db.js';

let t: TestDb;
let fs: DbosFs;
beforeAll(async () => {
  t = await freshDatabase({ blockSize: 8192 });
  fs = await DbosFs.open(t.db);
});
afterAll(async () => {
  await fs?.close();
  await t?.drop();
});

describe('streams', () => {
  it('reads each client\'s file `passes` times, each pass from the database', async () => {
    await fs.mkdir('/p', 0o755);
    const fileBytes = 1 << 20;
    await streams(fs, '/p', 2, fileBytes, 8192, 'write');
    const fetched = fs.stats().fetchedBytes;
    const before = Date.now();
    const r = await streams(fs, '/p', 2, fileBytes, 8192, 'read', 3);
    expect(r.bytes).toBe(3 * 2 * fileBytes);
    expect(fs.stats().fetchedBytes - fetched).toBe(3 * 2 * fileBytes);
    expect(r.ioWindow.startMs).toBeGreaterThanOrEqual(before);
    expect(r.ioWindow.endMs).toBeGreaterThanOrEqual(r.ioWindow.startMs);
    expect(r.ioWindow.endMs).toBeLessThanOrEqual(Date.now());
  });
});
