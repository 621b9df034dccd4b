// The statements a commit uses to set a file's times (namespace.commitTimes):
// they always set the times, and tell whether the file's ctime was still the
// one expected, exactly (nanoseconds), not as a floating-point comparison.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbosFs } from '../../../fs/dbosfs.js';
import * as namespace from '../../../fs/sql/namespace.js';
import { freshDatabase, type TestDb } from '../../helpers/db.js';

let t: TestDb;

beforeAll(async () => {
  t = await freshDatabase();
  const fs = await DbosFs.open(t.db, { checkPermissions: false });
  await fs.writeFile('/f', Buffer.from('x'));
  await fs.close();
});
afterAll(async () => { await t?.drop(); });

const setCtime = (ctime: string) => t.db.run('UPDATE Directory SET ctime = ? WHERE d_name = ? AND content = ?', [ctime, '/', 'f']);
const times = async () => (await t.db.rows<{ m: string; c: string }>(
  'SELECT CAST(mtime AS CHAR) AS m, CAST(ctime AS CHAR) AS c FROM Directory WHERE d_name = ? AND content = ?', ['/', 'f']))[0];

async function commit(expected?: { sec: number; nsec: number }): Promise<boolean> {
  const c = namespace.commitTimes('/f', { sec: 1_800_000_000, nsec: 5 }, expected);
  return c.onlyOurs(await t.db.atomically(c.statements));
}

describe('commitTimes', () => {
  it('reports the commit as the only change when the ctime is exactly the one expected', async () => {
    await setCtime('1700000000.123456789');
    expect(await commit({ sec: 1_700_000_000, nsec: 123_456_789 })).toBe(true);
    expect(await times()).toEqual({ m: '1800000000.000000005', c: '1800000000.000000005' });
  });

  it('sets the times but reports another change when the ctime differs, even by a nanosecond', async () => {
    await setCtime('1700000000.123456790');
    expect(await commit({ sec: 1_700_000_000, nsec: 123_456_789 })).toBe(false);
    expect(await times()).toEqual({ m: '1800000000.000000005', c: '1800000000.000000005' });
  });

  it('sets the times when nothing is expected', async () => {
    await setCtime('1700000000.000000000');
    expect(await commit()).toBe(false);
    expect(await times()).toEqual({ m: '1800000000.000000005', c: '1800000000.000000005' });
  });
});
