import { describe, expect, it } from 'vitest';
import { ancestors, isWithin, joinPath, normalizePath, rebase, splitPath } from '../../fs/paths.js';
import { compareTime, fromDecimal, toDecimal } from '../../fs/time.js';

const code = (f: () => unknown) => {
  try {
    f();
    return 'ok';
  } catch (e) {
    return (e as { code: string }).code;
  }
};

describe('paths', () => {
  it('normalizes, and splits into (d_name, content)', () => {
    expect(normalizePath('//a/./b/../c/')).toBe('/a/c');
    expect(normalizePath('x/y', '/home/u')).toBe('/home/u/x/y');
    expect(normalizePath('/..')).toBe('/');
    expect(splitPath('/')).toEqual({ parent: '', name: '/' });
    expect(splitPath('/a')).toEqual({ parent: '/', name: 'a' });
    expect(splitPath('/a/b c')).toEqual({ parent: '/a', name: 'b c' });
    expect(joinPath('/', 'a')).toBe('/a');
    expect(joinPath('/a', 'b')).toBe('/a/b');
    expect(ancestors('/a/b/c')).toEqual(['/a/b', '/a', '/']);
  });

  it('counts bytes, not characters, against NAME_MAX and PATH_MAX', () => {
    expect(code(() => normalizePath('/' + 'é'.repeat(127)))).toBe('ok');          // 254 bytes
    expect(code(() => normalizePath('/' + 'é'.repeat(128)))).toBe('ENAMETOOLONG'); // 256 bytes
    expect(code(() => normalizePath('/' + ('a'.repeat(200) + '/').repeat(20)))).toBe('OK'.toLowerCase());
    expect(code(() => normalizePath('/' + ('a'.repeat(200) + '/').repeat(21)))).toBe('ENAMETOOLONG');
    expect(code(() => normalizePath(''))).toBe('ENOENT');
    expect(code(() => normalizePath('/a\0b'))).toBe('EINVAL');
  });

  it('knows which paths lie below a directory, byte for byte', () => {
    expect(isWithin('/a/b', '/a')).toBe(true);
    expect(isWithin('/a', '/a')).toBe(true);
    expect(isWithin('/ab', '/a')).toBe(false);
    expect(isWithin('/a%/x', '/a_')).toBe(false);
    expect(isWithin('/anything', '/')).toBe(true);
    expect(rebase('/a/b/c', '/a', '/z')).toBe('/z/b/c');
  });
});

describe('times', () => {
  it('round-trips nanoseconds through DECIMAL(20,9), including before 1970', () => {
    for (const t of [{ sec: 0, nsec: 0 }, { sec: 1700000000, nsec: 123456789 }, { sec: -1, nsec: 500000000 }, { sec: -100, nsec: 1 }]) {
      expect(fromDecimal(toDecimal(t))).toEqual(t);
    }
    expect(fromDecimal('1700000000.1')).toEqual({ sec: 1700000000, nsec: 100000000 });
    expect(compareTime({ sec: 1, nsec: 2 }, { sec: 1, nsec: 3 })).toBeLessThan(0);
  });
});
