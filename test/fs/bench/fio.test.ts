// What `dbos bench fs` takes from fio's report: a group's rate and runtime,
// when its I/O ran, and reads that go through the file more than once.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fio, streamJob } from '../../../fs/bench/fio.js';

describe('fio streams', () => {
  it('reports the group\'s runtime and I/O window, and reads every pass', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbos-fio-'));
    try {
      const shape = { clients: 2, fileBytes: 4 << 20, ioBytes: 8192 };
      await fio(dir, 'par', streamJob({ ...shape, phase: 'write' }));
      const before = Date.now();
      const r = await fio(dir, 'par', streamJob({ ...shape, phase: 'read', passes: 3 }));
      const after = Date.now();
      expect(r.args).toContain('--loops=3');
      // Rate times runtime is what both jobs read over three passes: the runtime is the group's, not the jobs' sum.
      expect(r.mibPerSecond * r.seconds).toBeCloseTo((3 * 2 * shape.fileBytes) / 2 ** 20, 0);
      // The window is the I/O's: it ends when fio reported and lasts the runtime, after fio started.
      expect(r.ioWindow.endMs - r.ioWindow.startMs).toBe(Math.round(r.seconds * 1000));
      expect(r.ioWindow.startMs).toBeGreaterThanOrEqual(before);
      expect(r.ioWindow.endMs).toBeLessThanOrEqual(after);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
