// The /proc helpers: which files a process holds.
import { describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processHoldsFile } from '../../schema/process.js';

describe('processHoldsFile', () => {
  it('knows a file by what a process has open, not by its name', () => {
    const dir = mkdtempSync('/tmp/dbos-holds-');
    const file = join(dir, 'log');
    writeFileSync(file, 'x');
    const fd = openSync(file, 'r');
    try {
      expect(processHoldsFile(process.pid, file)).toBe(true);
      // Another file at the same name (a container's path, say) is not the one held.
      rmSync(file);
      writeFileSync(file, 'y');
      expect(processHoldsFile(process.pid, file)).toBe(false);
    } finally {
      closeSync(fd);
    }
    expect(processHoldsFile(process.pid, file)).toBe(false);
    expect(processHoldsFile(2 ** 22 + 12345, file)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });
});
