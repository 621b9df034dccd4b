import { describe, expect, it } from 'vitest';
import { cellText, formatTable, jsonValue } from '../../cli/table.js';

describe('query output', () => {
  it('aligns columns, right-aligns numeric columns and keeps each row on one line', () => {
    const out = formatTable(['name', 'size'], [{ name: Buffer.from('a\nb'), size: 5 }, { name: 'long name', size: 12345 }, { name: null, size: null }]);
    expect(out).toBe([
      'name        size',
      '---------  -----',
      'a\\nb           5',
      'long name  12345',
      'NULL        NULL',
      '(3 rows)'].join('\n'));
  });

  it('prints binary that is not text as hex, and DECIMAL integers as JSON numbers', () => {
    expect(cellText(Buffer.from([0, 1, 2]))).toBe('0x000102');
    expect(cellText(Buffer.from('😀'))).toBe('😀');
    expect(jsonValue('123', true)).toBe(123);
    expect(jsonValue('123.5', true)).toBe('123.5');
    expect(jsonValue('123', false)).toBe('123');
    expect(jsonValue('99999999999999999999', true)).toBe('99999999999999999999');
  });
});
