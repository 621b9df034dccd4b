// Restarting the private server with its buffer pool empty (what `dbos bench
// fs` does before a cold read), on a server of its own: a restart would cut off
// every other test file's database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { restartWithEmptyBufferPool } from '../../../cli/commands/server.js';
import { Db } from '../../../schema/db.js';
import { dbosHome } from '../../../schema/home.js';
import { privateTarget, startServer, stopServer } from '../../../schema/server.js';

const home = dbosHome({ DBOS_HOME: mkdtempSync('/tmp/dbos-restart-') });
let db: Db;
const ROWS = 2048; // 8 KiB each: about 1,000 pages

beforeAll(async () => {
  // As `DBOS_DB_MEMORY=64M dbos up` leaves it: the size is in no settings
  // file, and the restart must keep it all the same.
  writeFileSync(join(home.root, 'server.json'), JSON.stringify({}));
  await startServer(home, { bufferPool: '64M' });
  db = new Db(privateTarget(home));
  await db.ddl('CREATE TABLE pages (id INT PRIMARY KEY, body BLOB NOT NULL)');
  for (let i = 0; i < ROWS; i += 256) {
    const ids = Array.from({ length: 256 }, (_, k) => i + k);
    await db.run(`INSERT INTO pages VALUES ${ids.map(() => '(?, REPEAT(?, 8192))').join(', ')}`, ids.flatMap((id) => [id, String(id % 10)]));
  }
}, 120_000);
afterAll(async () => {
  await db?.close();
  await stopServer(home);
  rmSync(home.root, { recursive: true, force: true });
});

const status = async (name: string) =>
  (await db.rows<{ v: string }>('SELECT VARIABLE_VALUE AS v FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = ?', [name.toUpperCase()]))[0]!.v;
const poolReads = async () => Number(await status('Innodb_buffer_pool_reads'));
/** Pages InnoDB read from its files to scan the table. */
const scanReads = async () => {
  const before = await poolReads();
  expect(Number((await db.rows<{ n: string }>('SELECT SUM(LENGTH(body)) AS n FROM pages'))[0]!.n)).toBe(ROWS * 8192);
  return (await poolReads()) - before;
};

describe('restartWithEmptyBufferPool', () => {
  it('brings the server back with the same pool size and nothing in it, where a plain restart reloads the pool', async () => {
    await scanReads();
    expect(await scanReads()).toBe(0); // warm

    // A plain restart: InnoDB reloads what it held (in the background, once it
    // is up), all of it when told to keep a list of every page (25% by default).
    const keepAll = () => db.run('SET GLOBAL innodb_buffer_pool_dump_pct = 100');
    await keepAll();
    await stopServer(home);
    await startServer(home, { bufferPool: '64M' });
    for (let i = 0; i < 100 && !/completed/i.test(await status('Innodb_buffer_pool_load_status')); i++) await sleep(100);
    expect(await scanReads()).toBeLessThan(100);

    await keepAll();
    await restartWithEmptyBufferPool(home);
    expect(Number((await db.rows<{ size: string }>('SELECT @@GLOBAL.innodb_buffer_pool_size AS size'))[0]!.size)).toBe(64 << 20);
    expect(await status('Innodb_buffer_pool_load_status')).not.toMatch(/completed/i);
    // The same pool answers the query: it reconnected by itself.
    expect(await scanReads()).toBeGreaterThan(900);
  });
});
