// Db.atomically (and readThenChange, which also answers a locking read's
// rows): statements as one transaction, in one multi-statement round trip
// when small (values formatted into the text) and as prepared statements in a
// transaction when large; all or nothing either way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Db, type Statement } from '../../schema/db.js';
import { freshDatabase, type TestDb } from '../helpers/db.js';

let t: TestDb;
/** One connection only: a transaction left open by a failure would show in the next statement. */
let single: Db;

beforeAll(async () => {
  t = await freshDatabase();
  single = new Db(t.target, { poolSize: 1 });
  await t.db.ddl('CREATE TABLE Kv (k VARCHAR(200) PRIMARY KEY, v MEDIUMBLOB, n INT)');
});
afterAll(async () => {
  await single?.close();
  await t?.drop();
});

const put = (k: string, v: Buffer, n = 0): Statement => ({ sql: 'INSERT INTO Kv (k, v, n) VALUES (?, ?, ?)', params: [k, v, n] });
/** Prepared-statement executions on the single connection, around `work`. */
const executions = async (work: () => Promise<unknown>) => {
  const count = async () => Number((await single.rows<{ Value: string }>("SHOW SESSION STATUS LIKE 'Com_stmt_execute'"))[0]!.Value);
  const before = await count();
  await work();
  return await count() - before;
};
const value = async (k: string) => (await t.db.rows<{ v: Buffer; n: number }>('SELECT v, n FROM Kv WHERE k = ?', [k]))[0];

describe('Db.atomically', () => {
  it('returns the rows each statement matched, and carries odd names and every byte value intact', async () => {
    const odd = "it's 100%_sure\\ \"quoted\"\nnext line; DROP TABLE Kv; --";
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const matched = await single.atomically([
      put(odd, bytes),
      put('two', Buffer.from('x'), 1),
      { sql: 'UPDATE Kv SET n = n + 1 WHERE k IN (?, ?)', params: [odd, 'two'] },
      { sql: 'UPDATE Kv SET n = 5 WHERE k = ?', params: ['absent'] },
    ]);
    expect(matched).toEqual([1, 1, 2, 0]);
    expect(await value(odd)).toEqual({ v: bytes, n: 1 });
    expect((await value('two'))?.n).toBe(2);
  });

  it('changes nothing when a statement fails, and leaves no transaction open on the connection', async () => {
    await expect(single.atomically([put('first', Buffer.from('a')), put('two', Buffer.from('dup'))])).rejects.toMatchObject({ code: 'ER_DUP_ENTRY' });
    expect(await value('first')).toBeUndefined();
    // Same connection, autocommit: visible to another connection at once.
    await single.run('INSERT INTO Kv (k, v, n) VALUES (?, ?, 0)', ['after', Buffer.from('b')]);
    expect((await value('after'))?.v).toEqual(Buffer.from('b'));
  });

  it('sends a large transaction as prepared statements, with the same all-or-nothing', async () => {
    const big = Buffer.alloc(100_000, 0x27); // 100 KB of quote characters
    let matched: number[] = [];
    const large = await executions(async () => { matched = await single.atomically([put('big', big), { sql: 'UPDATE Kv SET n = 7 WHERE k = ?', params: ['big'] }]); });
    const small = await executions(() => single.atomically([put('small', Buffer.from('s')), { sql: 'UPDATE Kv SET n = 7 WHERE k = ?', params: ['small'] }]));
    expect(large - small).toBe(2);
    expect(matched).toEqual([1, 1]);
    expect(await value('big')).toEqual({ v: big, n: 7 });
    await expect(single.atomically([put('big2', big), put('big', big)])).rejects.toMatchObject({ code: 'ER_DUP_ENTRY' });
    expect(await value('big2')).toBeUndefined();
  });

  it('sends a large transaction as one round trip when the caller allows that many bytes', async () => {
    const big = Buffer.alloc(100_000, 0x5c); // 100 KB of backslashes
    const statements = [put('allowed', big), { sql: 'UPDATE Kv SET n = 3 WHERE k = ?', params: ['allowed'] }];
    let matched: number[] = [];
    const large = await executions(async () => { matched = await single.atomically(statements, { oneTripBytes: 256 * 1024 }); });
    const small = await executions(() => single.atomically([put('tiny', Buffer.from('t'))]));
    expect(large - small).toBe(0);
    expect(matched).toEqual([1, 1]);
    expect(await value('allowed')).toEqual({ v: big, n: 3 });
  });

  it('formats values correctly on a server whose sql_mode has NO_BACKSLASH_ESCAPES', async () => {
    const before = (await t.db.rows<{ m: string }>('SELECT @@GLOBAL.sql_mode AS m'))[0]!.m;
    // Only new connections take the global mode: set it, open one, put it back at once.
    await t.db.run("SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',NO_BACKSLASH_ESCAPES')");
    const fresh = new Db(t.target, { poolSize: 1 });
    try {
      await fresh.rows('SELECT 1');
    } finally {
      await t.db.run('SET GLOBAL sql_mode = ?', [before]);
    }
    try {
      const name = "back\\slash 'quote' \n";
      expect(await fresh.atomically([put(name, Buffer.from([0x5c, 0x27, 0x00]))])).toEqual([1]);
      expect((await value(name))?.v).toEqual(Buffer.from([0x5c, 0x27, 0x00]));
    } finally {
      await fresh.close();
    }
  });
});

describe('Db.readThenChange', () => {
  it('answers its locking read\'s rows and applies the changes after it, small in one trip or large as prepared statements, all or nothing', async () => {
    await single.atomically([put('r1', Buffer.from('a'), 1), put('r2', Buffer.from('b'), 2)]);
    const read = { sql: 'SELECT k, n FROM Kv WHERE k IN (?, ?) ORDER BY k FOR UPDATE', params: ['r1', 'r2'] };
    const bump = { sql: 'UPDATE Kv SET n = n + 10 WHERE k IN (?, ?)', params: ['r1', 'r2'] };
    const big = Buffer.alloc(100_000, 0x27);
    let rows: unknown[] = [];
    const small = await executions(async () => { rows = await single.readThenChange(read, [bump, put('r3', Buffer.from('c'))]); });
    expect(rows).toEqual([{ k: 'r1', n: 1 }, { k: 'r2', n: 2 }]);
    expect([(await value('r1'))?.n, (await value('r2'))?.n, (await value('r3'))?.n]).toEqual([11, 12, 0]);
    const large = await executions(async () => { rows = await single.readThenChange(read, [bump, put('r4', big)]); });
    expect(large - small).toBe(3);
    expect(rows).toEqual([{ k: 'r1', n: 11 }, { k: 'r2', n: 12 }]);
    expect((await value('r4'))?.v).toEqual(big);
    for (const changes of [[bump, put('r1', Buffer.from('dup'))], [bump, put('r5', big), put('r1', big)]]) {
      await expect(single.readThenChange(read, changes)).rejects.toMatchObject({ code: 'ER_DUP_ENTRY' });
      expect((await value('r1'))?.n).toBe(21);
    }
    expect(await value('r5')).toBeUndefined();
  });
});

describe('retries', () => {
  it('runs a statement again after a deadlock, a lock-wait timeout or a failed AUTO_INCREMENT lock, and not after other errors', async () => {
    // A trigger fails the next N inserts with a chosen error; its counter is
    // in a MyISAM table, which the failed statement's rollback leaves alone.
    await t.db.ddl('CREATE TABLE Fail_next (n INT NOT NULL, errno INT NOT NULL) ENGINE=MyISAM');
    await t.db.ddl('CREATE TABLE Target (k INT PRIMARY KEY) ENGINE=InnoDB');
    await t.db.ddl(`CREATE TRIGGER Target_fail BEFORE INSERT ON Target FOR EACH ROW
      BEGIN
        DECLARE e INT DEFAULT NULL;
        SELECT errno INTO e FROM Fail_next WHERE n > 0 LIMIT 1;
        IF e IS NOT NULL THEN
          UPDATE Fail_next SET n = n - 1;
          IF e = 1213 THEN SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213, MESSAGE_TEXT = 'Deadlock found';
          ELSEIF e = 1205 THEN SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1205, MESSAGE_TEXT = 'Lock wait timeout';
          ELSEIF e = 1467 THEN SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1467, MESSAGE_TEXT = 'Failed to read auto-increment value';
          ELSE SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1146, MESSAGE_TEXT = 'another error';
          END IF;
        END IF;
      END`);
    const failNext = async (n: number, errno: number) => {
      await t.db.run('DELETE FROM Fail_next');
      await t.db.run('INSERT INTO Fail_next (n, errno) VALUES (?, ?)', [n, errno]);
    };
    for (const [k, errno] of [[1, 1213], [2, 1205], [3, 1467]]) {
      await failNext(2, errno!);
      expect(await t.db.run('INSERT INTO Target (k) VALUES (?)', [k!])).toBe(1);
      await failNext(2, errno!);
      await t.db.tx(async (q) => q.run('INSERT INTO Target (k) VALUES (?)', [k! + 10]));
    }
    expect((await t.db.rows<{ k: number }>('SELECT k FROM Target ORDER BY k')).map((r) => r.k)).toEqual([1, 2, 3, 11, 12, 13]);
    await failNext(1, 1146);
    await expect(t.db.run('INSERT INTO Target (k) VALUES (4)')).rejects.toThrow(/another error/);
  });
});
