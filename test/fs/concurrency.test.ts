// Several clients (each its own shim and connection pool) racing on the same
// names: the database's constraints and row locks keep the tree consistent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Db } from '../../schema/db.js';
import { DbosFs } from '../../fs/dbosfs.js';
import { freshDatabase, type TestDb } from '../helpers/db.js';

let t: TestDb;
const clients: { db: Db; fs: DbosFs }[] = [];

beforeAll(async () => {
  t = await freshDatabase();
  for (let i = 0; i < 8; i++) {
    const db = new Db(t.target, { poolSize: 4 });
    clients.push({ db, fs: await DbosFs.open(db, { attrTtlMs: 0 }) });
  }
});
afterAll(async () => {
  for (const c of clients) {
    await c.fs.close().catch(() => undefined);
    await c.db.close();
  }
  await t?.drop();
});

const outcome = (p: Promise<unknown>) => p.then(() => 'ok', (e) => e.code as string);

describe('concurrent clients', () => {
  it('exactly one of many concurrent creates of one name succeeds', async () => {
    for (let round = 0; round < 5; round++) {
      const name = `/race${round}`;
      const results = await Promise.all(clients.flatMap((c) => [0, 1].map(() => outcome(c.fs.mkdir(name, 0o755)))));
      expect(results.filter((r) => r === 'ok')).toHaveLength(1);
      expect(results.filter((r) => r === 'EEXIST')).toHaveLength(results.length - 1);
    }
    const rows = await t.db.rows("SELECT COUNT(*) AS n FROM Directory WHERE d_name = '/' AND content LIKE 'race%'");
    expect(Number(rows[0]!.n)).toBe(5);
  });

  it('many clients making and removing directories in one parent all succeed, and its link count adds up', async () => {
    // Found by dbos bench fs: 40 mkdirs in one directory deadlocked past the retries (EIO).
    const fs0 = clients[0]!.fs;
    await fs0.mkdir('/crowd', 0o755);
    const names = Array.from({ length: 40 }, (_, i) => `/crowd/d${i}`);
    const made = await Promise.all(names.map((n, i) => outcome(clients[i % clients.length]!.fs.mkdir(n, 0o755))));
    expect(made.filter((o) => o !== 'ok')).toEqual([]);
    expect((await fs0.getattr('/crowd')).nlink).toBe(42);
    const removed = await Promise.all(names.map((n, i) => outcome(clients[(i + 3) % clients.length]!.fs.rmdir(n))));
    expect(removed.filter((o) => o !== 'ok')).toEqual([]);
    expect((await fs0.getattr('/crowd')).nlink).toBe(2);
    expect(await fs0.readdir('/crowd')).toEqual([]);
  });

  it('creating in a directory while another client removes it leaves no orphans', async () => {
    for (let round = 0; round < 20; round++) {
      const dir = `/victim${round}`;
      await clients[0]!.fs.mkdir(dir, 0o755);
      const creates = clients.slice(1).map((c, i) => outcome(c.fs.create(`${dir}/f${i}`, 0o644).then((fd) => c.fs.release(fd))));
      const removal = outcome(clients[0]!.fs.rmdir(dir));
      const [removed, ...made] = await Promise.all([removal, ...creates]);
      const children = await t.db.rows('SELECT COUNT(*) AS n FROM Directory WHERE d_name = ?', [dir]);
      const parent = await t.db.rows("SELECT COUNT(*) AS n FROM Directory WHERE d_name = '/' AND content = ?", [dir.slice(1)]);
      if (removed === 'ok') {
        expect(Number(parent[0]!.n)).toBe(0);
        expect(Number(children[0]!.n)).toBe(0);
        expect(made.every((m) => m === 'ENOENT')).toBe(true);
      } else {
        expect(removed).toBe('ENOTEMPTY');
        expect(Number(parent[0]!.n)).toBe(1);
        expect(Number(children[0]!.n)).toBe(made.filter((m) => m === 'ok').length);
      }
    }
  });

  it('concurrent renames of one source: one wins, nothing is duplicated or lost', async () => {
    await clients[0]!.fs.writeFile('/src', 'payload');
    const results = await Promise.all(clients.map((c, i) => outcome(c.fs.rename('/src', `/dst${i}`))));
    expect(results.filter((r) => r === 'ok')).toHaveLength(1);
    const rows = await t.db.rows("SELECT f_name FROM Localized_file WHERE block_no = 0 AND (f_name = '/src' OR f_name LIKE '/dst%')");
    expect(rows).toHaveLength(1);
    expect((await clients[1]!.fs.readFile((rows[0]!.f_name as Buffer).toString())).toString()).toBe('payload');
  });
});
