// The write-back buffer: what one handle, another handle, and another client
// (a second shim on the same database) see, and what survives a crash.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants as fsc } from 'node:fs';
import { Db } from '../../schema/db.js';
import { DbosFs, type ShimOptions } from '../../fs/dbosfs.js';
import { OpenFile } from '../../fs/open-file.js';
import { freshDatabase, type TestDb } from '../helpers/db.js';

let t: TestDb;
let fs: DbosFs;
const others: { db: Db; fs: DbosFs }[] = [];

/** Another client: its own pool and shim on the same database. */
async function client(opts: ShimOptions = {}): Promise<DbosFs> {
  const db = new Db(t.target);
  const c = await DbosFs.open(db, { attrTtlMs: 0, ...opts });
  others.push({ db, fs: c });
  return c;
}

beforeAll(async () => {
  t = await freshDatabase({ blockSize: 4096 });
  fs = await DbosFs.open(t.db, { maxDirtyAgeMs: 60_000 });
});
afterAll(async () => {
  for (const o of others) {
    await o.fs.close().catch(() => undefined);
    await o.db.close();
  }
  await fs?.close();
  await t?.drop();
});

const RW = fsc.O_RDWR;

describe('write-back buffer', () => {
  it('two handles on one file see each other\'s writes before any flush', async () => {
    const a = await fs.create('/shared', 0o644);
    const b = await fs.open('/shared', RW);
    await fs.write(a, Buffer.from('written by a'), 0);
    expect((await fs.read(b, 100, 0)).toString()).toBe('written by a');
    await fs.write(b, Buffer.from('B'), 11);
    expect((await fs.read(a, 100, 0)).toString()).toBe('written by B');
    expect((await fs.getattr('/shared')).size).toBe(12);
    await fs.release(a);
    await fs.release(b);
  });

  it('another client sees writes once the writer closes (close-to-open), not before', async () => {
    const other = await client();
    const fd = await fs.create('/c2o', 0o644);
    await fs.write(fd, Buffer.from('not yet'), 0);
    expect((await other.getattr('/c2o')).size).toBe(0);
    await fs.flush(fd);
    expect((await other.readFile('/c2o')).toString()).toBe('not yet');
    await fs.write(fd, Buffer.from('NOT'), 0);
    await fs.release(fd);
    expect((await other.readFile('/c2o')).toString()).toBe('NOT yet');
  });

  it('truncate while another handle holds dirty data drops what lies beyond', async () => {
    const a = await fs.create('/trunc-cached', 0o644);
    await fs.write(a, Buffer.alloc(10_000, 0x41), 0);
    const b = await fs.open('/trunc-cached', RW);
    await fs.ftruncate(b, 3000);
    expect((await fs.getattr('/trunc-cached')).size).toBe(3000);
    await fs.write(a, Buffer.from('Z'), 5000);  // extends again: 3000..4999 are zeros
    await fs.release(a);
    await fs.release(b);
    const other = await client();
    const data = await other.readFile('/trunc-cached');
    expect(data.length).toBe(5001);
    expect(data.subarray(0, 3000).every((x) => x === 0x41)).toBe(true);
    expect(data.subarray(3000, 5000).every((x) => x === 0)).toBe(true);
    expect(data[5000]).toBe(0x5a);
  });

  it('writes after a rename of the open file (or its directory) land under the new name', async () => {
    await fs.mkdir('/ren', 0o755);
    const fd = await fs.create('/ren/open', 0o644);
    await fs.write(fd, Buffer.from('before '), 0);
    await fs.rename('/ren/open', '/ren/moved');
    await fs.write(fd, Buffer.from('after '), 7);
    await fs.rename('/ren', '/ren2');
    await fs.write(fd, Buffer.from('dir-moved'), 13);
    await fs.release(fd);
    const other = await client();
    expect((await other.readFile('/ren2/moved')).toString()).toBe('before after dir-moved');
    const stray = await t.db.rows("SELECT COUNT(*) AS n FROM Localized_file WHERE f_name IN ('/ren/open', '/ren/moved', '/ren2/open')");
    expect(Number(stray[0]!.n)).toBe(0);
  });

  it('an unlinked open file does not come back when its buffer is flushed', async () => {
    const fd = await fs.create('/gone', 0o644);
    await fs.write(fd, Buffer.from('data'), 0);
    await fs.unlink('/gone');
    await fs.write(fd, Buffer.from('more'), 4);
    await fs.release(fd);
    expect(await t.db.rows("SELECT * FROM Localized_file WHERE f_name = '/gone'")).toEqual([]);
    await expect(fs.getattr('/gone')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('stat of an open file shows the new mtime after fsync commits it, not the one from before the write', async () => {
    await fs.writeFile('/mtime-open', 'x');
    const before = (await fs.getattr('/mtime-open')).mtime; // cached now
    await new Promise((r) => setTimeout(r, 5));
    const fd = await fs.open('/mtime-open', RW);
    await fs.write(fd, Buffer.from('y'), 0);
    const pending = (await fs.getattr('/mtime-open')).mtime;
    expect(pending.sec * 1e9 + pending.nsec).toBeGreaterThan(before.sec * 1e9 + before.nsec);
    await fs.fsync(fd);
    expect((await fs.getattr('/mtime-open')).mtime).toEqual(pending);
    await fs.release(fd);
    expect((await fs.getattr('/mtime-open')).mtime).toEqual(pending);
  });

  it('loses unflushed writes in a crash, keeps fsynced ones', async () => {
    const db = new Db(t.target);
    const crashy = await DbosFs.open(db, { maxDirtyAgeMs: 60_000 });
    const lost = await crashy.create('/crash-lost', 0o644);
    await crashy.write(lost, Buffer.from('never committed'), 0);
    const kept = await crashy.create('/crash-kept', 0o644);
    await crashy.write(kept, Buffer.from('committed by fsync'), 0);
    await crashy.fsync(kept);
    await crashy.write(kept, Buffer.from(' and this is lost'), 18);
    await db.close();  // the process dies: no close(), no flush
    const other = await client();
    expect((await other.getattr('/crash-lost')).size).toBe(0);
    expect((await other.readFile('/crash-kept')).toString()).toBe('committed by fsync');
  });

  it('commits buffers that stay dirty past the age limit without a close', async () => {
    const eager = await client({ maxDirtyAgeMs: 200 });
    const fd = await eager.create('/aged', 0o644);
    await eager.write(fd, Buffer.from('aged out'), 0);
    const reader = await client();
    let seen = '';
    for (let i = 0; i < 50 && seen !== 'aged out'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      seen = (await reader.readFile('/aged')).toString();
    }
    expect(seen).toBe('aged out');
    await eager.release(fd);
  });

  it('bounds the buffer: a large write is committed as it goes', async () => {
    const small = await client({ writeBack: { perFileBytes: 256 * 1024, totalBytes: 1 << 20 } });
    const fd = await small.create('/large', 0o644);
    let peak = 0;
    const chunk = Buffer.alloc(128 * 1024, 7);
    for (let i = 0; i < 64; i++) {
      await small.write(fd, chunk, i * chunk.length);
      peak = Math.max(peak, small.stats().dirtyBytes);
    }
    expect(peak).toBeLessThanOrEqual(256 * 1024 + chunk.length);
    await small.release(fd);
    expect(small.stats().dirtyBytes).toBe(0);
    expect((await fs.getattr('/large')).size).toBe(64 * chunk.length);
  });
});

describe('block cache and read-ahead', () => {
  const pattern = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251));

  it('an open keeps what it read; the next open sees what another client closed meanwhile', async () => {
    await fs.writeFile('/c2o', pattern(10_000, 1));
    const other = await client();
    const fd = await fs.open('/c2o', fsc.O_RDONLY);
    expect((await fs.read(fd, 100, 5000)).equals(pattern(10_000, 1).subarray(5000, 5100))).toBe(true);
    await other.writeFile('/c2o', pattern(10_000, 2));
    const again = await fs.open('/c2o', fsc.O_RDONLY); // an open: the cache of this file is dropped
    expect((await fs.read(again, 100, 5000)).equals(pattern(10_000, 2).subarray(5000, 5100))).toBe(true);
    await fs.release(fd);
    await fs.release(again);
  });

  it('reads see this process\'s writes over cached blocks, before and after they are committed, and truncation', async () => {
    const fd = await fs.create('/rw-cache', 0o644);
    await fs.write(fd, pattern(3 * 4096, 3), 0);
    await fs.fsync(fd);
    expect((await fs.read(fd, 4096, 4096)).equals(pattern(3 * 4096, 3).subarray(4096, 8192))).toBe(true); // cached now
    await fs.write(fd, Buffer.from('NEW'), 5000);
    expect((await fs.read(fd, 10, 4998)).toString('latin1')).toBe(Buffer.concat([pattern(3 * 4096, 3).subarray(4998, 5000), Buffer.from('NEW'), pattern(3 * 4096, 3).subarray(5003, 5008)]).toString('latin1'));
    await fs.fsync(fd);
    expect((await fs.read(fd, 3, 5000)).toString()).toBe('NEW');
    await fs.ftruncate(fd, 4500);
    await fs.write(fd, Buffer.from('end'), 9000);
    const back = await fs.read(fd, 9003, 0);
    expect(back.subarray(0, 4500).equals(pattern(3 * 4096, 3).subarray(0, 4500))).toBe(true);
    expect(back.subarray(4500, 9000).equals(Buffer.alloc(4500))).toBe(true);
    expect(back.subarray(9000).toString()).toBe('end');
    await fs.release(fd);
  });

  it('reads holes, short blocks and the end of the file as zeros into a buffer that held other bytes', async () => {
    const w = await fs.create('/holes-into', 0o644);
    await fs.write(w, Buffer.alloc(100, 1), 0);               // block 0: 100 bytes, then a short-block tail
    await fs.write(w, Buffer.alloc(50, 2), 3 * 4096 + 10);    // block 3, committed below
    await fs.fsync(w);
    await fs.write(w, Buffer.alloc(20, 3), 3 * 4096 + 2000);  // block 3 again, still dirty
    await fs.write(w, Buffer.alloc(7, 4), 5 * 4096 + 4000);   // block 5, dirty
    await fs.ftruncate(w, 6 * 4096 + 77);                     // a hole at the end
    const want = Buffer.alloc(6 * 4096 + 77);
    want.fill(1, 0, 100).fill(2, 3 * 4096 + 10, 3 * 4096 + 60).fill(3, 3 * 4096 + 2000, 3 * 4096 + 2020).fill(4, 5 * 4096 + 4000, 5 * 4096 + 4007);
    const r = await fs.open('/holes-into', fsc.O_RDONLY);
    for (const [pos, len] of [[0, want.length], [50, 4 * 4096], [3 * 4096 + 30, 3 * 4096], [5 * 4096 + 4005, 9000]]) {
      const into = Buffer.alloc(len, 0xaa);
      const n = await fs.readInto(r, into, pos);
      const expected = want.subarray(pos, pos + len);
      expect(n).toBe(expected.length);
      expect(into.subarray(0, n).equals(expected)).toBe(true);
      expect(into.subarray(n).every((x) => x === 0xaa)).toBe(true);
    }
    await fs.release(r);
    await fs.release(w);
  });

  it('a sequential reader gets every byte right across holes and another handle\'s unflushed writes', async () => {
    const size = 2 * 1024 * 1024 + 123;
    const data = pattern(size, 5);
    const w = await fs.create('/seq-read', 0o644);
    await fs.write(w, data.subarray(0, 600_000), 0);
    await fs.write(w, data.subarray(900_000), 900_000); // 600,000..900,000 stays a hole
    await fs.fsync(w);
    await fs.write(w, Buffer.from('DIRTY'), 1_500_000); // not committed: the reader must see it anyway
    const expected = Buffer.concat([data.subarray(0, 600_000), Buffer.alloc(300_000), data.subarray(900_000)]);
    expected.write('DIRTY', 1_500_000);
    const r = await fs.open('/seq-read', fsc.O_RDONLY);
    const parts: Buffer[] = [];
    for (let off = 0; off < size; off += 128 * 1024) parts.push(await fs.read(r, 128 * 1024, off));
    expect(Buffer.concat(parts).equals(expected)).toBe(true);
    await fs.release(r);
    await fs.release(w);
  });

  it('reads in flight together, as the kernel\'s read-ahead sends them, fetch each block once and get every byte right', async () => {
    const size = 3 * 1024 * 1024 + 77;
    const data = pattern(size, 7);
    await fs.writeFile('/ahead', data);
    const fd = await fs.open('/ahead', fsc.O_RDONLY);
    const before = fs.stats().fetchedBytes;
    const chunk = 128 * 1024;
    const offsets = Array.from({ length: Math.ceil(size / chunk) }, (_, i) => i * chunk);
    const got = Buffer.alloc(size);
    for (let i = 0; i < offsets.length; i += 4) {
      const batch = offsets.slice(i, i + 4);
      if (i % 8 === 4) batch.reverse(); // out of order, as several kernel threads may deliver them
      await Promise.all(batch.map(async (off) => (await fs.read(fd, chunk, off)).copy(got, off)));
    }
    expect(got.equals(data)).toBe(true);
    const fetched = fs.stats().fetchedBytes - before;
    expect(fetched).toBeGreaterThanOrEqual(size);
    expect(fetched).toBeLessThan(size * 1.1);
    await fs.release(fd);
  });

  it('a sequential reader has several range queries of at most 1 MiB in flight at once, and gets every byte right', async () => {
    const size = 12 * 1024 * 1024 + 5;               // 3,073 blocks of 4 KiB
    const data = pattern(size, 9);
    await fs.writeFile('/pieces', data);
    // Every block range query the shim sends, while it is in flight.
    const rows = t.db.rows.bind(t.db);
    let inFlight = 0;
    let peak = 0;
    let widest = 0;
    t.db.rows = (async (sql: string, params?: unknown[], opts?: unknown) => {
      if (!sql.includes('block_no BETWEEN')) return rows(sql, params as never, opts as never);
      const [from, to] = params!.slice(-2);             // the range's first and last block
      widest = Math.max(widest, Number(to) - Number(from) + 1);
      peak = Math.max(peak, ++inFlight);
      try {
        return await rows(sql, params as never, opts as never);
      } finally {
        inFlight--;
      }
    }) as typeof t.db.rows;
    try {
      const fd = await fs.open('/pieces', fsc.O_RDONLY);
      const parts: Buffer[] = [];
      for (let off = 0; off < size; off += 128 * 1024) parts.push(await fs.read(fd, 128 * 1024, off));
      await fs.release(fd);
      expect(Buffer.concat(parts).equals(data)).toBe(true);
    } finally {
      t.db.rows = rows;
    }
    expect(widest).toBeLessThanOrEqual(256);           // 1 MiB of 4 KiB blocks
    expect(peak).toBeGreaterThanOrEqual(8);             // 16 MiB ahead
  });

  it('sequential readers at once share the cache: each block is fetched once, and none is kept once read', async () => {
    const files = 4;
    const size = 8 * 1024 * 1024;
    const cacheTotal = 3 * 1024 * 1024;
    // Each reader alone may fetch 2 MiB ahead (half its 4 MiB), four of them 8 MiB: more than the 3 MiB cache holds.
    const c = await client({ writeBack: { cachePerFileBytes: 4 * 1024 * 1024, cacheTotalBytes: cacheTotal } });
    const content = (seed: number) => {
      const b = Buffer.allocUnsafe(size);
      for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) % 251;
      return b;
    };
    for (let f = 0; f < files; f++) await c.writeFile(`/share-${f}`, content(f));
    const fds = await Promise.all(Array.from({ length: files }, (_, f) => c.open(`/share-${f}`, fsc.O_RDONLY)));
    const before = c.stats().fetchedBytes;
    let peak = 0;
    const got = await Promise.all(fds.map(async (fd) => {
      const out = Buffer.alloc(size);
      for (let off = 0; off < size; off += 128 * 1024) {
        (await c.read(fd, 128 * 1024, off)).copy(out, off);
        peak = Math.max(peak, c.stats().cachedBytes);
      }
      return out;
    }));
    for (let f = 0; f < files; f++) expect(got[f]!.equals(content(f))).toBe(true);
    expect(c.stats().fetchedBytes - before).toBe(files * size);
    expect(peak).toBeLessThanOrEqual(cacheTotal);
    expect(c.stats().cachedBytes).toBe(0); // all read to the end, all still open
    for (const fd of fds) await c.release(fd);
  });

  it('a sequential reader in reads of one block finds where to fetch next without going through its whole window each time', async () => {
    const size = 16 * 1024 * 1024;                 // 4,096 blocks of 4 KiB; the window reaches 4,096 of them
    await fs.writeFile('/small-reads', Buffer.alloc(size, 7));
    const proto = OpenFile.prototype as unknown as { available(b: number): boolean };
    const available = proto.available;
    let checks = 0;
    proto.available = function (this: unknown, b: number) {
      checks++;
      return available.call(this, b);
    };
    try {
      const fd = await fs.open('/small-reads', fsc.O_RDONLY);
      for (let off = 0; off < size; off += 4096) expect((await fs.read(fd, 4096, off))[4095]).toBe(7);
      await fs.release(fd);
    } finally {
      proto.available = available;
    }
    expect(checks).toBeLessThan(4 * (size / 4096)); // a few per block, not a window's worth per read
  });

  it('a small file is fetched whole at its second miss: random reads and partial writes in it cost two queries', async () => {
    const size = 64 * 1024 + 100;                   // 17 blocks of 4 KiB
    const data = pattern(size, 8);
    await fs.writeFile('/small', data);
    const fd = await fs.open('/small', RW);
    const before = fs.stats().fetchedBytes;
    const expected = Buffer.from(data);
    for (let i = 0; i < 40; i++) {
      const off = (i * 7919) % (size - 100);
      if (i % 2) {
        expect((await fs.read(fd, 100, off)).equals(expected.subarray(off, off + 100))).toBe(true);
      } else {
        await fs.write(fd, Buffer.from('w' + i), off);
        expected.write('w' + i, off);
      }
    }
    // The first miss fetched one block, the second the rest.
    expect(fs.stats().fetchedBytes - before).toBe(size);
    await fs.release(fd);
    expect((await fs.readFile('/small')).equals(expected)).toBe(true);
    const one = await fs.open('/small', fsc.O_RDONLY);
    const again = fs.stats().fetchedBytes;
    await fs.read(one, 10, 20_000);
    expect(fs.stats().fetchedBytes - again).toBe(4096); // one read after an open: its block only
    await fs.release(one);
  });

  it('a block fetched while a write to it commits is not cached over the write', async () => {
    await fs.writeFile('/racing', pattern(8192, 4));
    const fd = await fs.open('/racing', RW);
    const inFlight = fs.read(fd, 4096, 0);  // the query is sent now and answers with the old block
    await fs.write(fd, Buffer.from('NEW'), 10);
    await fs.fsync(fd);
    await inFlight;
    expect((await fs.read(fd, 3, 10)).toString()).toBe('NEW');
    await fs.release(fd);
    const other = await client();
    expect((await other.readFile('/racing')).subarray(10, 13).toString()).toBe('NEW');
  });

  it('reads that fail together (the database gone) each fail with EIO, and leave no rejection unhandled', async () => {
    const db = new Db(t.target);
    const c = await DbosFs.open(db, { attrTtlMs: 0 });
    await c.writeFile('/gone', pattern(2 * 1024 * 1024, 3)); // past the size fetched whole
    const fd = await c.open('/gone', fsc.O_RDONLY);
    await db.close();
    // The second read waits for the first's query, then for its own (blocks 25 on):
    // when the first fails, nobody else waits for the second's.
    const results = await Promise.allSettled([c.read(fd, 4096, 100_000), c.read(fd, 8192, 100_000)]);
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok'))).toEqual(['EIO', 'EIO']);
    await new Promise((r) => setTimeout(r, 50)); // an unhandled rejection would fail the run here
    await c.close().catch(() => undefined);
  });

  it('stays within its memory limits however much is read', async () => {
    const small = await client({ writeBack: { cachePerFileBytes: 64 * 1024, cacheTotalBytes: 96 * 1024 } });
    await small.writeFile('/big-read', pattern(1024 * 1024, 9));
    const fds = [await small.open('/big-read', fsc.O_RDONLY), await small.open('/seq-read', fsc.O_RDONLY)];
    let peak = 0;
    for (let off = 0; off < 1024 * 1024; off += 16 * 1024) {
      for (const fd of fds) await small.read(fd, 16 * 1024, off);
      peak = Math.max(peak, small.stats().cachedBytes);
    }
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(96 * 1024);
    for (const fd of fds) await small.release(fd);
    expect(small.stats().cachedBytes).toBe(0);
  });
});
