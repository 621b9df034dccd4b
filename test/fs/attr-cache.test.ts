import { describe, expect, it } from 'vitest';
import { AttrCache } from '../../fs/attr-cache.js';
import type { Entry } from '../../fs/sql/namespace.js';

const entry = (path: string, sec: number): Entry => ({
  path, type: 'directory', owner: 'root', perm: 0o755, pKey: 0, gid: 0, nlink: 2,
  atime: { sec, nsec: 0 }, mtime: { sec, nsec: 0 }, ctime: { sec, nsec: 0 },
  rdev: 0, target: null, placement: 'localized', blockSize: 4096, size: 0,
});

describe('attribute cache', () => {
  it('does not take back a row read before a change that dropped it', () => {
    const cache = new AttrCache(1000);
    const readAt = cache.snapshot();      // a lookup starts…
    cache.drop('/d');                     // …utimens commits and drops /d…
    cache.set(entry('/d', 1), readAt);    // …the lookup returns the older row
    expect(cache.get('/d')).toBeUndefined();
    cache.set(entry('/d', 2), cache.snapshot());
    expect(cache.get('/d')?.mtime.sec).toBe(2);
  });

  it('moves a cached directory\'s times forward when its coalesced times commit, never back, also for lookups in flight', () => {
    const cache = new AttrCache(1000);
    cache.set(entry('/d', 5));
    const readAt = cache.snapshot();      // a lookup starts before the times commit
    cache.touchTimes('/d', { sec: 7, nsec: 1 });
    expect(cache.get('/d')?.mtime).toEqual({ sec: 7, nsec: 1 });
    expect(cache.get('/d')?.ctime).toEqual({ sec: 7, nsec: 1 });
    expect(cache.get('/d')?.atime).toEqual({ sec: 5, nsec: 0 });
    // Its row, read before the commit, lands patched: the lookup needs no second read.
    expect(cache.set(entry('/d', 5), readAt).mtime).toEqual({ sec: 7, nsec: 1 });
    expect(cache.get('/d')?.mtime.sec).toBe(7);
    expect(cache.changedSince('/d', readAt)).toBe(false);
    cache.touchTimes('/d', { sec: 6, nsec: 0 }); // GREATEST in the database: an older touch changes nothing
    expect(cache.get('/d')?.mtime).toEqual({ sec: 7, nsec: 1 });
    cache.touchTimes('/absent', { sec: 9, nsec: 0 });
    expect(cache.get('/absent')).toBeUndefined();
  });

  it('a change to one path does not keep rows of other paths out of the cache', () => {
    const cache = new AttrCache(1000);
    const readAt = cache.snapshot();
    cache.drop('/other');
    cache.set(entry('/d', 1), readAt);
    expect(cache.get('/d')?.mtime.sec).toBe(1);
  });

  it('drops whole subtrees and expires entries', async () => {
    const cache = new AttrCache(20);
    for (const p of ['/a', '/a/b', '/ab']) cache.set(entry(p, 1));
    cache.dropBelow('/a');
    expect([cache.get('/a'), cache.get('/a/b')]).toEqual([undefined, undefined]);
    expect(cache.get('/ab')).toBeDefined();
    await new Promise((r) => setTimeout(r, 30));
    expect(cache.get('/ab')).toBeUndefined();
  });

  it('evicts expired entries when it drops a subtree, so that the next scan is short', async () => {
    const cache = new AttrCache(20);
    for (let i = 0; i < 1000; i++) cache.set(entry(`/old/f${i}`, 1));
    await new Promise((r) => setTimeout(r, 30));
    cache.set(entry('/live', 1));
    cache.dropBelow('/elsewhere');
    expect(cache.size).toBe(1);
    expect(cache.get('/live')).toBeDefined();
  });

  it('patches a row for a change made through it, keeps its expiry, and keeps out rows read before the change', async () => {
    const cache = new AttrCache(40);
    cache.set(entry('/f', 1));
    const readAt = cache.snapshot();      // a lookup starts…
    await new Promise((r) => setTimeout(r, 25));
    cache.update('/f', (e) => ({ ...e, perm: 0o600, ctime: { sec: 9, nsec: 0 } })); // …chmod commits…
    expect(cache.get('/f')?.perm).toBe(0o600);
    expect(cache.get('/f')?.ctime.sec).toBe(9);
    expect(cache.get('/f')?.mtime.sec).toBe(1);
    expect(cache.set(entry('/f', 1), readAt).perm).toBe(0o755); // …the lookup lands with the row from before
    expect(cache.get('/f')?.perm).toBe(0o600);
    await new Promise((r) => setTimeout(r, 25));
    expect(cache.get('/f')).toBeUndefined(); // expired 40 ms after it was read, not after the change
    cache.update('/absent', (e) => ({ ...e, perm: 0 }));
    expect(cache.get('/absent')).toBeUndefined();
  });

  it('tells a lookup whether its path changed while it read, also after its records were cleared', () => {
    const cache = new AttrCache(1000, 2);
    const readAt = cache.snapshot();
    cache.drop('/other');
    expect(cache.changedSince('/d', readAt)).toBe(false);
    cache.drop('/d');
    expect(cache.changedSince('/d', readAt)).toBe(true);
    expect(cache.changedSince('/d', cache.snapshot())).toBe(false);
    const later = cache.snapshot();
    cache.drop('/a'); // a third recorded path: the records are cleared, every path counts as changed
    expect(cache.changedSince('/d', later)).toBe(true);
    const afterClear = cache.snapshot();
    cache.dropBelow('/x');
    expect(cache.changedSince('/d', afterClear)).toBe(true);
    expect(cache.changedSince('/d', cache.snapshot())).toBe(false);
  });
});
