// dbos bench sched, at a tiny scale (no Slurm): every policy is measured at
// each offered rate and in a closed loop, the ceiling and the end-to-end runs
// of real tasks produce numbers, and the reports are written.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { dbos } from '../helpers/cli.js';

interface Point { offered: number; achieved: number; medianMs: number; assigned: number }

describe('dbos bench sched', () => {
  it('measures every policy, the ceiling and real tasks end to end, and writes JSON, Markdown and charts', () => {
    const out = mkdtempSync('/tmp/dbos-bench-out-');
    try {
      const r = dbos(['bench', 'sched', '--quick', '--no-slurm', '--steps', '100,200', '--step-seconds', '0.5', '--tasks', '20', '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
        ceiling: { perSecond: number };
        synthetic: { policy: string; steps: Point[]; closedLoop: Point }[];
        e2e: Record<'sequential' | 'independent' | 'graph', { tasks: number; perSecond: number }>;
        slurm: Record<string, { unavailable?: string }>;
      };
      expect(results.ceiling.perSecond).toBeGreaterThan(0);
      expect(results.synthetic.map((c) => c.policy)).toEqual(expect.arrayContaining(['fifo', 'locality', 'least-loaded']));
      for (const curve of results.synthetic) {
        expect(curve.steps.map((s) => s.offered), curve.policy).toEqual(expect.arrayContaining([100, 200]));
        for (const s of curve.steps) expect(s.assigned, `${curve.policy} at ${s.offered}/s`).toBeGreaterThan(0);
        expect(curve.closedLoop.achieved).toBeGreaterThan(0);
      }
      for (const run of ['sequential', 'independent', 'graph'] as const) {
        expect(results.e2e[run].tasks, run).toBe(20);
        expect(results.e2e[run].perSecond, run).toBeGreaterThan(0);
      }
      expect(results.slurm.fast?.unavailable).toBe('skipped (--no-slurm)');
      const md = readFileSync(join(out, 'results.md'), 'utf8');
      expect(md).toMatch(/## Targets/);
      expect(md).toMatch(/decisions\/s per core .* \| \d+ per core/);
      for (const chart of ['synthetic-throughput.svg', 'synthetic-latency.svg', 'e2e-throughput.svg']) {
        expect(readFileSync(join(out, chart), 'utf8')).toMatch(/^<svg/);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('refuses a bad list of rates in one plain sentence', () => {
    const r = dbos(['bench', 'sched', '--steps', '100,,200']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toMatch(/^dbos: --steps must be a comma-separated list \(got "100,,200"\)\.$/);
  });
});
