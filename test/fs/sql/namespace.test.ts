// Directory's statements (fs/sql/namespace.ts): the ones a commit uses to set
// a file's times, which always set them and tell whether the file's ctime was
// still the one expected, exactly (nanoseconds); and the statements for many
// names at once (lookups, committed ctimes, inserts, unlinks), each checked
// against the same work done one name at a time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Db } from '../../../schema/db.js';
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

/** What `work` answers, and the SQL of each query it sent through t.db.rows. */
async function withQueries<T>(work: () => Promise<T>): Promise<{ result: T; sent: string[] }> {
  const sent: string[] = [];
  const rowsOf = t.db.rows.bind(t.db);
  t.db.rows = ((sql: string, ...rest: never[]) => { sent.push(sql); return rowsOf(sql, ...rest); }) as typeof t.db.rows;
  try {
    return { result: await work(), sent };
  } finally {
    t.db.rows = rowsOf;
  }
}

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

  it('reads the row once when the ctime was the one expected: the second statement, told by ROW_COUNT(), reads nothing', async () => {
    // Index reads of the two statements, run in one session as a commit runs them.
    const readsOf = async (expected: { sec: number; nsec: number }) => t.db.tx(async (q) => {
      const reads = async () => Number((await q.rows<{ v: string }>(
        "SELECT VARIABLE_VALUE AS v FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'HANDLER_READ_KEY'"))[0]!.v);
      const c = namespace.commitTimes('/f', { sec: 1_800_000_001, nsec: 0 }, expected);
      const before = await reads();
      const matched = [];
      for (const s of c.statements) matched.push(await q.run(s.sql, s.params));
      return { reads: (await reads()) - before, ours: c.onlyOurs(matched) };
    });
    await setCtime('1700000000.000000001');
    expect(await readsOf({ sec: 1_700_000_000, nsec: 1 })).toEqual({ reads: 1, ours: true });
    await setCtime('1700000000.000000002');
    expect(await readsOf({ sec: 1_700_000_000, nsec: 1 })).toEqual({ reads: 2, ours: false });
    expect(await times()).toEqual({ m: '1800000001.000000000', c: '1800000001.000000000' });
  });

  it('sets the times when nothing is expected', async () => {
    await setCtime('1700000000.000000000');
    expect(await commit()).toBe(false);
    expect(await times()).toEqual({ m: '1800000000.000000005', c: '1800000000.000000005' });
  });
});

/**
 * Builds the same tree under each of `tops` (a name at a time through the
 * shim), each with a `par` directory of parallel placement; tests compare
 * what one statement does to one tree with what single statements do to the other.
 */
async function twinTrees(tops: string[], build: (fs: DbosFs, top: string) => Promise<void>): Promise<void> {
  const fs = await DbosFs.open(t.db, { checkPermissions: false });
  try {
    for (const top of tops) {
      await fs.mkdir(top, 0o755);
      await fs.mkdir(`${top}/par`, 0o755);
      await fs.setxattr(`${top}/par`, 'user.dbos.placement', Buffer.from('parallel'));
      await build(fs, top);
    }
  } finally {
    await fs.close();
  }
}

describe('lookupMany', () => {
  it('answers many names in one statement, in the order asked, with each one\'s size and xattr flag, null for missing names', async () => {
    const fs = await DbosFs.open(t.db, { checkPermissions: false });
    const odd = ["/m/%_'\"\\\n name", '/m/café ☕', '/m/x'.padEnd(200, 'y')];
    try {
      await fs.mkdir('/m', 0o755);
      for (const [i, p] of odd.entries()) await fs.writeFile(p, Buffer.alloc(i * 1000 + 1, 1));
      await fs.mkdir('/m/par', 0o755);
      await fs.setxattr('/m/par', 'user.dbos.placement', Buffer.from('parallel'));
      await fs.writeFile('/m/par/big', Buffer.alloc(70_000, 2));
      await fs.setxattr(odd[1], 'user.tag', Buffer.from('t'));
      await fs.symlink('/m/x', '/m/link');
    } finally {
      await fs.close();
    }
    // Three existing names and two missing ones: five, padded to eight in the statement.
    const asked = ['/m/par/big', '/missing', ...odd, '/m/%_missing', '/', '/m/link', odd[0]];
    const { result: many, sent } = await withQueries(() => namespace.lookupMany(t.db, asked));
    expect(sent).toHaveLength(1);
    expect(many.map((e) => e && [e.path, e.type, e.size, e.hasXattrs, e.placement])).toEqual([
      ['/m/par/big', 'file', 70_000, false, 'parallel'],
      null,
      [odd[0], 'file', 1, false, 'localized'],
      [odd[1], 'file', 1001, true, 'localized'],
      [odd[2], 'file', 2001, false, 'localized'],
      null,
      ['/', 'directory', 0, false, 'localized'],
      ['/m/link', 'symlink', 0, false, 'localized'],
      [odd[0], 'file', 1, false, 'localized'],
    ]);
    // Each answer is what a lookup of that name alone returns.
    for (const [i, p] of asked.entries()) expect(many[i]).toEqual(await namespace.lookup(t.db, p));
    expect(many[7]!.target).toBe('/m/x');
  });
});

describe('ctimesOf', () => {
  it('answers each name\'s committed ctime, exactly, in one statement that reads Directory alone; null for missing names', async () => {
    // lookupMany's test made these names.
    const odd = "/m/%_'\"\\\n name";
    await t.db.run('UPDATE Directory SET ctime = ? WHERE d_name = ? AND content = ?', ['1800000000.000000007', '/m', odd.slice(3)]);
    const asked = [odd, '/missing', '/m/par/big', '/', odd];
    const { result: ctimes, sent } = await withQueries(() => namespace.ctimesOf(t.db, asked));
    expect(sent).toHaveLength(1);
    expect(sent[0]).not.toMatch(/Localized_file|Parallel_file|Xattr/);
    expect(ctimes[0]).toEqual({ sec: 1_800_000_000, nsec: 7 });
    expect(ctimes[1]).toBeNull();
    for (const [i, p] of asked.entries()) expect(ctimes[i]).toEqual((await namespace.lookup(t.db, p))?.ctime ?? null);
  });
});

describe('insertMany', () => {
  const draft = (over: Partial<namespace.NewEntry> = {}): namespace.NewEntry =>
    ({ type: 'file', owner: 'root', perm: 0o640, pKey: 0, gid: 7, nlink: 1, time: { sec: 1_800_000_000, nsec: 9 }, ...over });
  /** What a lookup shows of a stored entry, without its name and inode number (each row has its own). */
  const shown = async (p: string) => {
    const e = await namespace.lookup(t.db, p);
    return e && { ...e, path: undefined, ino: undefined };
  };

  it('stores many names in one statement, each as inserting it alone would; a missing or non-directory parent gives null', async () => {
    // Names go into "many" together and into "one" one by one.
    await twinTrees(['/many', '/one'], async (fs, top) => {
      await fs.mkdir(`${top}/sgid`, 0o755);
      await fs.chown(`${top}/sgid`, 0, 4242);
      await fs.chmod(`${top}/sgid`, 0o2775);
      await fs.writeFile(`${top}/file`, Buffer.from('x'));
      await fs.mkdir(`${top}/deep`, 0o755);
    });
    // A first statement of short names prepares the eight-row shape; long
    // names through the same shape must come back whole.
    const warm = ['/many/w1', '/many/w2', '/many/w3', '/many/w4', '/many/w5'];
    expect(await namespace.insertMany(t.db, warm.map((path) => ({ path, entry: draft() })))).toHaveLength(5);
    const long = 'n'.repeat(255);
    const rel = [`%_'"\\\n name`, 'café ☕', `par/${long}`, 'sgid/in-sgid', 'sgid/subdir', 'deep/sym', 'missing/x', 'file/x'];
    const entries = (top: string) => rel.map((r) => ({
      path: `${top}/${r}`,
      entry: r === 'sgid/subdir' ? draft({ type: 'directory', nlink: 2, perm: 0o755 })
        : r === 'deep/sym' ? draft({ type: 'symlink', perm: 0o777, target: `/${long}/${long}` })
          : r === `%_'"\\\n name` ? draft({ type: 'char', rdev: 0x0501 }) : draft(),
    }));
    const sent: string[] = [];
    const rowsOf = t.db.rows.bind(t.db);
    t.db.rows = ((sql: string, ...rest: never[]) => { sent.push(sql); return rowsOf(sql, ...rest); }) as typeof t.db.rows;
    let many;
    try {
      many = await namespace.insertMany(t.db, entries('/many'));
    } finally {
      t.db.rows = rowsOf;
    }
    expect(sent).toHaveLength(1);
    const one = [];
    for (const { path, entry } of entries('/one')) one.push(await namespace.insert(t.db, path, entry));
    const withoutIno = (rs: (namespace.Inserted | null)[]) => rs.map((r) => r && { ...r, ino: undefined });
    expect(withoutIno(many)).toEqual(withoutIno(one));
    // Each name's own number, as a lookup reads it, and none shared.
    const inos = many.filter((r) => r !== null).map((r) => r.ino);
    expect(new Set([...inos, ...one.filter((r) => r !== null).map((r) => r.ino)]).size).toBe(2 * inos.length);
    for (const [i, r] of rel.slice(0, 6).entries()) expect((await namespace.lookup(t.db, `/many/${r}`))!.ino).toBe(inos[i]);
    expect(many.map((r) => r && [r.placement, r.gid, r.perm])).toEqual([
      ['localized', 7, 0o640], ['localized', 7, 0o640], ['parallel', 7, 0o640], ['localized', 4242, 0o640],
      ['localized', 4242, 0o2755], ['localized', 7, 0o777], null, null,
    ]);
    for (const r of rel.slice(0, 6)) {
      expect(await shown(`/many/${r}`)).not.toBeNull();
      expect(await shown(`/many/${r}`)).toEqual(await shown(`/one/${r}`));
    }
    expect((await namespace.lookup(t.db, '/many/deep/sym'))!.target).toBe(`/${long}/${long}`);
    expect((await namespace.lookup(t.db, '/many/%_\'"\\\n name'))!.rdev).toBe(0x0501);
  });

  it('does not lock the gaps where a parent\'s siblings go: while the insert\'s transaction is open, a sibling of the parent can be inserted', async () => {
    // Locking the parents through the listing index also locked the gaps beside
    // them: a mkdir next to creates in its sibling directories deadlocked on
    // every retry (Table 1's durable creates failed with EIO).
    const dir = draft({ type: 'directory', nlink: 2, perm: 0o755 });
    await namespace.insert(t.db, '/sib', dir);
    await namespace.insert(t.db, '/sib/a', dir);
    const other = new Db(t.target, { poolSize: 1 });
    try {
      await other.run('SET SESSION innodb_lock_wait_timeout = 1');
      // One name (the one-row statement) and several (the batched one).
      for (const names of [['/sib/a/x'], ['/sib/a/y1', '/sib/a/y2']]) {
        let sibling: unknown;
        await t.db.tx(async (open) => {
          expect(await namespace.insertMany(open, names.map((path) => ({ path, entry: draft() })))).not.toContain(null);
          // Kept out of the transaction's own retries: a lock wait here is the failure.
          sibling = await namespace.insert(other, `/sib/b${names.length}`, dir).catch((e: unknown) => e);
        });
        expect(sibling).toMatchObject({ ino: expect.any(Number) });
      }
    } finally {
      await other.close();
    }
  });

  it('stores none of the names when one of them exists', async () => {
    const names = ['/dup-a', '/dup-b', '/many/w2', '/dup-c'];
    await expect(namespace.insertMany(t.db, names.map((path) => ({ path, entry: draft() })))).rejects.toMatchObject({ code: 'ER_DUP_ENTRY' });
    for (const p of ['/dup-a', '/dup-b', '/dup-c']) expect(await namespace.lookup(t.db, p)).toBeNull();
  });
});

describe('unlinkMany', () => {
  // What is stored under a tree, with the tree's name taken off: names, blocks and xattrs.
  const storedUnder = async (top: string) => {
    const under = (column: string) => `${column} >= CONCAT(?, '/') AND ${column} < CONCAT(?, '0')`;
    const strip = (v: unknown) => String(v).slice(top.length);
    const names = await t.db.rows<{ p: Buffer; k: string }>(
      `SELECT path AS p, content_type AS k FROM Directory WHERE d_name = ? OR ${under('d_name')} ORDER BY p`, [top, top, top]);
    const blocks = await Promise.all(['Localized_file', 'Parallel_file'].map((table) => t.db.rows<{ f: Buffer; n: number }>(
      `SELECT f_name AS f, COUNT(*) AS n FROM ${table} WHERE ${under('f_name')} GROUP BY f_name ORDER BY f_name`, [top, top])));
    const xattrs = await t.db.rows<{ f: Buffer }>(`SELECT f_name AS f FROM Xattr WHERE ${under('f_name')} ORDER BY f_name, x_name`, [top, top]);
    return {
      names: names.map((r) => [strip(r.p), r.k]),
      blocks: blocks.map((rows) => rows.map((r) => [strip(r.f), Number(r.n)])),
      xattrs: xattrs.map((r) => strip(r.f)),
    };
  };

  it('removes many names in one transaction as unlinking each alone would, with their blocks and xattrs, and leaves directories and other names', async () => {
    const odd = `%_'"\\\n name`;
    // Names go from "/ua" together and from "/ub" one by one.
    await twinTrees(['/ua', '/ub'], async (fs, top) => {
      await fs.writeFile(`${top}/par/big`, Buffer.alloc(200_000, 2));
      await fs.writeFile(`${top}/file`, Buffer.alloc(70_000, 1));
      await fs.setxattr(`${top}/file`, 'user.tag', Buffer.from('t'));
      await fs.writeFile(`${top}/file2`, Buffer.alloc(70_000, 3)); // a neighbour, kept
      await fs.setxattr(`${top}/file2`, 'user.tag', Buffer.from('t'));
      await fs.writeFile(`${top}/${odd}`, Buffer.from('odd'));
      await fs.symlink('/x', `${top}/link`);
      await fs.mknod(`${top}/fifo`, 0o010644);
      await fs.mkdir(`${top}/dir`, 0o755);
      await fs.setxattr(`${top}/dir`, 'user.tag', Buffer.from('d'));
      await fs.writeFile(`${top}/dir/in`, Buffer.from('in'));
    });
    const rel = ['par/big', 'file', odd, 'link', 'fifo', 'dir', 'missing', 'dir/in/x'];
    expect((await storedUnder('/ua')).blocks[1]).toEqual([['/par/big', 5]]); // parallel blocks, to be removed
    const calls: string[] = [];
    const changes: string[][] = [];
    const spy = <K extends 'rows' | 'run' | 'call' | 'readThenChange'>(k: K) => {
      const original = t.db[k].bind(t.db);
      t.db[k] = ((...args: never[]) => {
        calls.push(k);
        if (k === 'readThenChange') changes.push((args[1] as { sql: string }[]).map((c) => c.sql.replace(/\s+/g, ' ').slice(0, 20)));
        return (original as (...a: never[]) => unknown)(...args);
      }) as never;
      return () => { t.db[k] = original as never; };
    };
    const restore = (['rows', 'run', 'call', 'readThenChange'] as const).map(spy);
    let many;
    try {
      many = await namespace.unlinkMany(t.db, rel.map((r) => `/ua/${r}`));
    } finally {
      restore.forEach((r) => r());
    }
    expect(calls).toEqual(['readThenChange']);
    // After the locking read, two statements: the xattrs, then the rows with
    // their blocks, so each name is found twice, not once per table.
    expect(changes).toEqual([['DELETE x FROM Direct', 'DELETE d, l, p FROM ']]);
    const one = [];
    for (const r of rel) one.push(await namespace.unlinkEntry(t.db, `/ub/${r}`));
    expect(many).toEqual(['file', 'file', 'file', 'symlink', 'fifo', 'directory', null, null]);
    expect(one).toEqual(many);
    const left = await storedUnder('/ua');
    expect(left).toEqual(await storedUnder('/ub'));
    expect(left).toEqual({
      names: [['/dir', 'directory'], ['/dir/in', 'file'], ['/file2', 'file'], ['/par', 'directory']],
      blocks: [[['/dir/in', 2], ['/file2', 3]], []],
      xattrs: ['/dir', '/file2'],
    });
  });
});
