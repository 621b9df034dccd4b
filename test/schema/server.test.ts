// The private server's settings that need no server.
import { describe, expect, it } from 'vitest';
import { defaultBufferPool } from '../../schema/server.js';

const GiB = 2 ** 30;

describe('defaultBufferPool', () => {
  it('is a quarter of the memory in whole 128 MiB, and never under 1 GiB', () => {
    expect(defaultBufferPool(24 * GiB)).toBe('6144M');
    expect(defaultBufferPool(23.5 * GiB)).toBe('6016M');
    expect(defaultBufferPool(6 * GiB)).toBe('1536M');
    expect(defaultBufferPool(4 * GiB)).toBe('1024M');
    expect(defaultBufferPool(2 * GiB)).toBe('1024M');
  });
});
