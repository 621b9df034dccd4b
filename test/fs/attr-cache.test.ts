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

  it('remembers an absent xattr only while the entry stays cached, and not across a change', () => {
    const cache = new AttrCache(1000);
    cache.set(entry('/f', 1));
    const readAt = cache.snapshot();
    cache.markXattrAbsent('/f', 'security.capability', readAt);
    expect(cache.isXattrAbsent('/f', 'security.capability')).toBe(true);
    expect(cache.isXattrAbsent('/f', 'user.other')).toBe(false);
    cache.drop('/f'); // setxattr drops the path
    expect(cache.isXattrAbsent('/f', 'security.capability')).toBe(false);
    cache.set(entry('/f', 2));
    const before = cache.snapshot();
    cache.drop('/f'); // a setxattr lands while the getxattr that found nothing is in flight
    cache.set(entry('/f', 3));
    cache.markXattrAbsent('/f', 'security.capability', before);
    expect(cache.isXattrAbsent('/f', 'security.capability')).toBe(false);
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
