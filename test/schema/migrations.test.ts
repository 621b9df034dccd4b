// Versioned schema: created once, migrated forward, a newer one refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, requireCurrentSchema, schemaVersion, SCHEMA_VERSION, SchemaError, validateInitOptions } from '../../schema/migrations.js';
import { freshDatabase, type TestDb } from '../helpers/db.js';

let t: TestDb;
beforeAll(async () => { t = await freshDatabase({ partitions: 4, blockSize: 8192 }); });
afterAll(async () => { await t?.drop(); });

describe('migrations', () => {
  it("creates the paper's tables and lists the partitions in Map", async () => {
    const tables = (await t.db.rows('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1')).map((r) => r.n);
    expect(tables).toEqual(['Dbos_meta', 'Directory', 'File_size_class', 'Localized_file', 'Mailbox', 'Map', 'Message', 'Message_history', 'Message_queue', 'Message_waiting', 'Parallel_file', 'Sched_policy', 'Task', 'Task_dep', 'User', 'Worker', 'Xattr']);
    const cols = async (table: string) => (await t.db.rows(
      'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', [table])).map((r) => r.c);
    expect(await cols('Map')).toEqual(['p_key', 'partition_id', 'host_name', 'host_id']);
    expect((await cols('User')).slice(0, 1)).toEqual(['user_name']);
    expect(await cols('User')).toEqual(expect.arrayContaining(['home_partition', 'current_path']));
    expect((await cols('Directory')).slice(0, 5)).toEqual(['d_name', 'content', 'content_type', 'user_name', 'protection_info']);
    expect(await cols('Directory')).toContain('p_key');
    expect((await cols('Localized_file')).slice(0, 6)).toEqual(['f_name', 'f_owner', 'block_no', 'bytes', 'f_size', 'p_key']);
    expect(await cols('Message')).toEqual(expect.arrayContaining(['sender_id', 'receiver_id', 'message_id', 'data']));
    expect((await cols('Parallel_file')).slice(0, 5)).toEqual(['f_name', 'f_owner', 'block_no', 'bytes', 'f_size']);
    expect((await t.db.rows('SELECT p_key FROM Map ORDER BY p_key')).map((r) => r.p_key)).toEqual([0, 1, 2, 3]);
  });

  it('is idempotent and keeps the settings fixed at creation', async () => {
    expect(await migrate(t.db, { partitions: 16 })).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION });
    expect(Number((await t.db.rows('SELECT COUNT(*) AS n FROM Map'))[0]!.n)).toBe(4);
    await requireCurrentSchema(t.db);
  });

  it('migrates an older schema forward and refuses a newer one', async () => {
    await t.db.run("UPDATE Dbos_meta SET value = '0' WHERE name = 'schema_version'");
    await expect(requireCurrentSchema(t.db)).rejects.toThrow(/no dbos schema|older/);
    expect(await migrate(t.db)).toEqual({ from: 0, to: SCHEMA_VERSION });
    await t.db.run("UPDATE Dbos_meta SET value = ? WHERE name = 'schema_version'", [String(SCHEMA_VERSION + 1)]);
    await expect(migrate(t.db)).rejects.toThrow(/newer than this dbos/);
    await expect(requireCurrentSchema(t.db)).rejects.toThrow(SchemaError);
    await t.db.run("UPDATE Dbos_meta SET value = ? WHERE name = 'schema_version'", [String(SCHEMA_VERSION)]);
    expect(await schemaVersion(t.db)).toBe(SCHEMA_VERSION);
  });

  it('version 7 numbers the rows of an older database, each its own, and new rows after them', async () => {
    for (const name of ['a', 'b', 'c']) {
      await t.db.run(`INSERT INTO Directory (d_name, content, content_type, user_name, protection_info, p_key, gid, nlink,
                        atime, mtime, ctime, placement, block_size) VALUES ('/', ?, 'file', 'root', 420, 0, 0, 1, 0, 0, 0, 'localized', 8192)`, [name]);
    }
    // Back to version 6: no numbers.
    await t.db.ddl('ALTER TABLE Directory DROP KEY by_ino, DROP COLUMN ino');
    await t.db.run("UPDATE Dbos_meta SET value = '6' WHERE name = 'schema_version'");
    expect(await migrate(t.db)).toEqual({ from: 6, to: SCHEMA_VERSION });
    const inos = (await t.db.rows<{ ino: number }>('SELECT ino FROM Directory')).map((r) => Number(r.ino));
    expect(inos.length).toBe(3);
    expect(new Set(inos).size).toBe(inos.length);
    expect(Math.min(...inos)).toBeGreaterThan(0);
    await t.db.run(`INSERT INTO Directory (d_name, content, content_type, user_name, protection_info, p_key, gid, nlink,
                      atime, mtime, ctime, placement, block_size) VALUES ('/', 'd', 'file', 'root', 420, 0, 0, 1, 0, 0, 0, 'localized', 8192)`);
    const [d] = await t.db.rows<{ ino: number }>("SELECT ino FROM Directory WHERE d_name = '/' AND content = 'd'");
    expect(Number(d!.ino)).toBeGreaterThan(Math.max(...inos));
  });

  it('version 8 clusters the file tables by key and block, keeps their rows, and keys every name written later', async () => {
    const keyMatches = async (table: string) => {
      const [r] = await t.db.rows<{ n: number; ok: string }>(
        `SELECT COUNT(*) AS n, SUM(f_key = UNHEX(LEFT(SHA2(f_name, 256), 32))) AS ok FROM ${table}`);
      return { n: Number(r!.n), ok: Number(r!.ok) };
    };
    const primary = async (table: string) => (await t.db.rows<{ c: string }>(
      `SELECT COLUMN_NAME AS c FROM information_schema.STATISTICS
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`, [table])).map((r) => r.c);
    const odd = "/odd %_'\"\\\n name";
    // Back to version 7: a generated key under a unique index, no primary key, no key triggers.
    for (const table of ['Localized_file', 'Parallel_file']) {
      await t.db.ddl(`DROP TRIGGER IF EXISTS ${table}_key_insert`);
      await t.db.ddl(`DROP TRIGGER IF EXISTS ${table}_key_update`);
      await t.db.ddl(`ALTER TABLE ${table} DROP PRIMARY KEY,
                        MODIFY f_key BINARY(16) AS (UNHEX(LEFT(SHA2(f_name, 256), 32))) PERSISTENT, ADD UNIQUE KEY block (f_key, block_no)`);
      expect(await primary(table)).toEqual([]);
    }
    await t.db.run(`INSERT INTO Localized_file (f_name, f_owner, block_no, bytes, f_size, p_key)
                    VALUES (?, 'root', -1, NULL, 3, 0), (?, NULL, 0, 'abc', NULL, 0), ('/b', NULL, 0, 'x', NULL, 1)`, [odd, odd]);
    await t.db.run("INSERT INTO Parallel_file (f_name, f_owner, block_no, bytes, f_size) VALUES ('/p', NULL, 7, 'y', NULL)");
    await t.db.run("UPDATE Dbos_meta SET value = '7' WHERE name = 'schema_version'");

    expect(await migrate(t.db)).toEqual({ from: 7, to: SCHEMA_VERSION });
    for (const table of ['Localized_file', 'Parallel_file']) expect(await primary(table)).toEqual(['f_key', 'block_no']);
    expect(await keyMatches('Localized_file')).toEqual({ n: 3, ok: 3 });
    expect(await keyMatches('Parallel_file')).toEqual({ n: 1, ok: 1 });
    const bytes = await t.db.rows<{ bytes: Buffer }>(
      'SELECT bytes FROM Localized_file WHERE f_key = UNHEX(LEFT(SHA2(?, 256), 32)) AND block_no = 0', [odd]);
    expect(bytes.map((r) => r.bytes.toString())).toEqual(['abc']);

    // Later writers name only f_name: the triggers key new rows and renamed ones.
    await t.db.run("INSERT INTO Parallel_file (f_name, f_owner, block_no, bytes, f_size) VALUES ('/q', NULL, 0, 'z', NULL)");
    await t.db.run("INSERT INTO Parallel_file (f_name, block_no, bytes) SELECT '/copy', block_no, bytes FROM Parallel_file WHERE f_name = '/p'");
    await t.db.run("UPDATE Localized_file SET f_name = '/renamed' WHERE f_name = ?", [odd]);
    expect(await keyMatches('Localized_file')).toEqual({ n: 3, ok: 3 });
    expect(await keyMatches('Parallel_file')).toEqual({ n: 3, ok: 3 });
    // The primary key refuses a second row for one block of one file.
    await expect(t.db.run("INSERT INTO Localized_file (f_name, block_no, bytes, p_key) VALUES ('/b', 0, 'again', 1)")).rejects.toThrow(/Duplicate/);
    // And the migration can run again.
    await t.db.run("UPDATE Dbos_meta SET value = '7' WHERE name = 'schema_version'");
    expect(await migrate(t.db)).toEqual({ from: 7, to: SCHEMA_VERSION });
    expect(await keyMatches('Localized_file')).toEqual({ n: 3, ok: 3 });
    await t.db.run('DELETE FROM Localized_file');
    await t.db.run('DELETE FROM Parallel_file');
  });

  it('validates settings', () => {
    expect(() => validateInitOptions({ partitions: 0 })).toThrow(/partitions/);
    expect(() => validateInitOptions({ blockSize: 100 })).toThrow(/block size/);
    expect(validateInitOptions({})).toEqual({ partitions: 8, blockSize: 65536 });
  });
});
