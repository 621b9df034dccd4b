// The client's own cache across opens (the kernel's page cache under FUSE):
// the shim says it is still current only when nobody else changed the file
// since the client saw it, through two handles, two clients, truncation and
// renames.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants as fsc } from 'node:fs';
import { Db } from '../../schema/db.js';
import { DbosFs } from '../../fs/dbosfs.js';
import { freshDatabase, type TestDb } from '../helpers/db.js';

let t: TestDb;
let fs: DbosFs;
let otherDb: Db;
let other: DbosFs;

beforeAll(async () => {
  t = await freshDatabase({ blockSize: 4096 });
  fs = await DbosFs.open(t.db, { checkPermissions: false });
  otherDb = new Db(t.target);
  other = await DbosFs.open(otherDb, { checkPermissions: false, attrTtlMs: 0 });
});
afterAll(async () => {
  await other?.close();
  await otherDb?.close();
  await fs?.close();
  await t?.drop();
});

/** Opens, reports whether the client's cache may be kept, reads everything, closes. */
async function openRead(path: string, client = fs): Promise<{ kept: boolean; text: string }> {
  const fd = await client.open(path, fsc.O_RDONLY);
  const kept = client.clientCacheValid(fd);
  const text = (await client.read(fd, 1 << 20, 0)).toString();
  await client.release(fd);
  return { kept, text };
}

async function writeAt(path: string, text: string, pos = 0, client = fs): Promise<void> {
  const fd = await client.open(path, fsc.O_WRONLY);
  await client.write(fd, Buffer.from(text), pos);
  await client.release(fd);
}

describe('client cache across opens', () => {
  it('is kept after this client\'s own create, writes and reads', async () => {
    await fs.writeFile('/mine', 'first');
    expect(await openRead('/mine')).toEqual({ kept: true, text: 'first' });
    await writeAt('/mine', 'FIRST');
    expect(await openRead('/mine')).toEqual({ kept: true, text: 'FIRST' });
    expect((await openRead('/mine')).kept).toBe(true);
  });

  it('is dropped at the next open after another client commits a change of the same size, then kept again', async () => {
    await fs.writeFile('/shared', 'aaaa');
    expect((await openRead('/shared')).kept).toBe(true);
    await writeAt('/shared', 'bbbb', 0, other);
    expect(await openRead('/shared')).toEqual({ kept: false, text: 'bbbb' });
    expect(await openRead('/shared')).toEqual({ kept: true, text: 'bbbb' });
  });

  it('is dropped when another client changed the file while this one had it open and wrote to it', async () => {
    await fs.writeFile('/both', '0123456789');
    const fd = await fs.open('/both', fsc.O_RDWR);
    expect(fs.clientCacheValid(fd)).toBe(true);
    await writeAt('/both', 'XY', 8, other);       // commits while this client has the file open
    await fs.write(fd, Buffer.from('ab'), 0);
    await fs.release(fd);                           // this commit finds someone else's ctime
    expect(await openRead('/both')).toEqual({ kept: false, text: 'ab234567XY' });
  });

  it('two handles in this client share one version: a second open while the first writes keeps it', async () => {
    await fs.writeFile('/two', 'one');
    const a = await fs.open('/two', fsc.O_RDWR);
    await fs.write(a, Buffer.from('ONE'), 0);       // not committed yet
    const b = await fs.open('/two', fsc.O_RDONLY);
    expect(fs.clientCacheValid(b)).toBe(true);
    expect((await fs.read(b, 10, 0)).toString()).toBe('ONE');
    await fs.release(a);
    await fs.release(b);
    expect(await openRead('/two')).toEqual({ kept: true, text: 'ONE' });
  });

  it('is dropped after a truncate, an O_TRUNC open, a chmod elsewhere, and under a name another file was renamed onto', async () => {
    await fs.writeFile('/t', 'long content');
    expect((await openRead('/t')).kept).toBe(true);
    await fs.truncate('/t', 4);
    expect(await openRead('/t')).toEqual({ kept: false, text: 'long' });
    const fd = await fs.open('/t', fsc.O_WRONLY | fsc.O_TRUNC);
    expect(fs.clientCacheValid(fd)).toBe(false);
    await fs.write(fd, Buffer.from('new'), 0);
    await fs.release(fd);
    expect(await openRead('/t')).toEqual({ kept: true, text: 'new' });
    await other.chmod('/t', 0o600);
    expect((await openRead('/t')).kept).toBe(false);
    await fs.writeFile('/u', 'same');
    await fs.writeFile('/v', 'SAME');
    expect((await openRead('/u')).kept).toBe(true);
    await other.rename('/v', '/u');
    await new Promise((r) => setTimeout(r, 1100)); // this client's cached row of /u expires
    expect(await openRead('/u')).toEqual({ kept: false, text: 'SAME' });
  });

  it('checks an unchanged file by its ctime alone, with no join to its blocks, and a changed one then in full', async () => {
    await fs.writeFile('/cheap', 'same');
    await fs.stat('/cheap');                        // the row is cached: the next open is not "fresh"
    const sent: string[] = [];
    const rowsOf = t.db.rows.bind(t.db);
    t.db.rows = ((sql: string, ...rest: never[]) => { sent.push(sql); return rowsOf(sql, ...rest); }) as typeof t.db.rows;
    try {
      expect(await openRead('/cheap')).toEqual({ kept: true, text: 'same' });
      // The open's one statement about the name (the read then fetches the blocks).
      const aboutNames = () => sent.filter((q) => /FROM Directory/.test(q));
      expect(aboutNames()).toHaveLength(1);
      expect(aboutNames()[0]).toMatch(/d\.ctime FROM Directory d WHERE/);
      expect(aboutNames()[0]).not.toMatch(/Localized_file|Parallel_file|Xattr/);
      await writeAt('/cheap', 'SAME', 0, other);
      await fs.stat('/cheap');
      sent.length = 0;
      expect(await openRead('/cheap')).toEqual({ kept: false, text: 'SAME' });
      // The ctime differed: the full row, for the version this client holds now.
      expect(aboutNames()).toHaveLength(2);
      expect(aboutNames()[1]).toMatch(/FROM Directory d\s+LEFT JOIN Localized_file/);
    } finally {
      t.db.rows = rowsOf;
    }
    expect(await openRead('/cheap')).toEqual({ kept: true, text: 'SAME' });
  });

  it('follows a file renamed while open, through this client', async () => {
    await fs.writeFile('/r1', 'before');
    const fd = await fs.open('/r1', fsc.O_RDWR);
    await fs.rename('/r1', '/r2');
    await fs.write(fd, Buffer.from('AFTER!'), 0);
    await fs.release(fd);
    expect((await openRead('/r2')).text).toBe('AFTER!');
    expect((await openRead('/r2')).kept).toBe(true);
  });
});
