// File_size_class and usageByOwner: after every kind of change a file's size
// and owner go through, the summary answers exactly what a scan of the file
// tables answers, for thresholds on, inside and between size classes.
import { constants as fsc } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbosFs } from '../../../fs/dbosfs.js';
import { sizeClass, usageByOwner, type OwnerUsage } from '../../../fs/sql/usage.js';
import { sizeClassOf } from '../../../schema/ddl/fs.js';
import { migrate, SCHEMA_VERSION } from '../../../schema/migrations.js';
import { freshDatabase, type TestDb } from '../../helpers/db.js';

let t: TestDb;
let fs: DbosFs;
beforeAll(async () => {
  t = await freshDatabase({ blockSize: 4096 });
  fs = await DbosFs.open(t.db, { checkPermissions: false });
});
afterAll(async () => {
  await fs?.close();
  await t?.drop();
});

const THRESHOLDS = [1, 7, 8, 9, 4096, 5000, 20480, 20481, 24575, 24576, 65536, 1 << 30];

/** The answer by a scan of every size row, the way the paper's query reads them. */
async function scanned(minSize: number): Promise<OwnerUsage[]> {
  const rows = await t.db.rows<{ f_owner: string; files: string; bytes: string }>(
    `SELECT f_owner, COUNT(*) AS files, SUM(f_size) AS bytes FROM (
       SELECT f_owner, f_size FROM Localized_file WHERE block_no = -1 AND f_size >= ?
       UNION ALL SELECT f_owner, f_size FROM Parallel_file WHERE block_no = -1 AND f_size >= ?
     ) AS f GROUP BY f_owner ORDER BY f_owner`, [minSize, minSize]);
  return rows.map((r) => ({ owner: r.f_owner, files: Number(r.files), bytes: Number(r.bytes) }));
}

async function expectSummaryAgrees(): Promise<void> {
  await fs.sync();
  for (const min of THRESHOLDS) expect({ min, usage: await usageByOwner(t.db, min) }).toEqual({ min, usage: await scanned(min) });
}

async function writeAt(path: string, bytes: number, offset = 0, uid = 0): Promise<void> {
  const fd = await fs.open(path, fsc.O_CREAT | fsc.O_WRONLY, 0o644, { uid, gid: uid });
  try {
    await fs.write(fd, Buffer.alloc(bytes, 7), offset);
  } finally {
    await fs.release(fd);
  }
}

describe('sizeClass', () => {
  it('agrees with the SQL the triggers use, and every class holds its start and not its end', async () => {
    const sizes = [0, 1, 7, 8, 9, 15, 16, 17, 20479, 20480, 20481, 24575, 24576, 65535, 65536, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER];
    for (let i = 0; i < 200; i++) sizes.push(Math.floor(Math.random() * 2 ** (1 + (i % 50))));
    const values = sizes.map(() => 'SELECT ? AS i, CAST(? AS SIGNED) AS s').join(' UNION ALL ');
    const rows = await t.db.rows<{ c: string | number }>(`SELECT ${sizeClassOf('v.s')} AS c FROM (${values}) AS v ORDER BY v.i`,
      sizes.flatMap((s, i) => [i, s]));
    for (const [i, s] of sizes.entries()) {
      const c = sizeClass(s);
      expect({ s, start: Number(rows[i]!.c) }).toEqual({ s, start: c.start });
      expect(c.start <= s && s < c.end).toBe(true);
      expect(sizeClass(c.start).start).toBe(c.start);
      if (Number.isSafeInteger(c.end)) expect(sizeClass(c.end).start).toBe(c.end);
    }
    expect(sizeClass(20480)).toEqual({ start: 20480, end: 22528 });
  });
});

describe('File_size_class', () => {
  it('follows creates, growth, overwrites, truncation, chown, rename and unlink, in both file tables', async () => {
    await fs.mkdir('/u', 0o777);
    await fs.mkdir('/u/par', 0o777);
    await fs.setPlacement('/u/par', 'parallel');
    // Names the summary must treat as ordinary names.
    const names = ["/u/%_'\"\\\n a", '/u/b', '/u/c', '/u/par/d', '/u/par/e'];
    for (const [i, p] of names.entries()) await writeAt(p, 3000 + i * 9000, 0, 60001 + (i % 3));
    await writeAt('/u/empty', 0);
    await expectSummaryAgrees();

    await writeAt('/u/b', 5, 30_000, 60002); // grows across classes, leaves a hole
    await writeAt(names[0]!, 100, 0); // an overwrite inside the file: same size
    await fs.truncate('/u/c', 20_480);
    await fs.truncate('/u/par/d', 0);
    await expectSummaryAgrees();

    await fs.chown('/u/b', 60003, 60003);
    await fs.rename('/u/c', '/u/c2');
    await fs.rename('/u/par', '/u/par2');
    await fs.unlink(names[0]!);
    await fs.unlink('/u/par2/e');
    await expectSummaryAgrees();
    // Left: /u/b (grown to 30,005 bytes, now uid 60003's) and /u/c2 (20,480).
    expect(await usageByOwner(t.db, 1)).toEqual([{ owner: 'uid60003', files: 2, bytes: 30_005 + 20_480 }]);
  });

  it('stays exact under 40 concurrent writers of one owner and size class', async () => {
    await fs.mkdir('/many', 0o777);
    await Promise.all(Array.from({ length: 40 }, async (_, i) => {
      for (let j = 0; j < 5; j++) await writeAt(`/many/f${i}`, 21_000 + j * 500, 0, 60004);
      if (i % 4 === 0) await fs.unlink(`/many/f${i}`);
    }));
    await expectSummaryAgrees();
    expect(await usageByOwner(t.db, 20480)).toEqual(expect.arrayContaining([{ owner: 'uid60004', files: 30, bytes: 30 * 23_000 }]));
  });

  it('is rebuilt from the file tables when the migration runs again', async () => {
    const before = await usageByOwner(t.db, 1);
    await t.db.run('UPDATE File_size_class SET files = files + 5, total_bytes = 0');
    expect(await usageByOwner(t.db, 1)).not.toEqual(before);
    await t.db.run("UPDATE Dbos_meta SET value = '5' WHERE name = 'schema_version'");
    expect(await migrate(t.db)).toEqual({ from: 5, to: SCHEMA_VERSION });
    expect(await usageByOwner(t.db, 1)).toEqual(before);
  });

  it('counts a size row written without an owner under the empty name, in whole classes and in the class the threshold splits', async () => {
    for (const [name, size] of [['/no-owner-1', 30_000], ['/no-owner-2', 21_000]] as const) {
      await t.db.run('INSERT INTO Localized_file (f_name, f_owner, block_no, bytes, f_size, p_key) VALUES (?, NULL, -1, NULL, ?, 0)', [name, size]);
    }
    expect((await usageByOwner(t.db, 20_481)).filter((u) => u.owner === '')).toEqual([{ owner: '', files: 2, bytes: 51_000 }]);
    await t.db.run('DELETE FROM Localized_file WHERE f_name IN (?, ?)', ['/no-owner-1', '/no-owner-2']);
    expect((await usageByOwner(t.db, 1)).filter((u) => u.owner === '')).toEqual([]);
  });

  it('refuses a threshold under one byte', async () => {
    await expect(usageByOwner(t.db, 0)).rejects.toThrow(/at least 1 byte/);
  });
});
