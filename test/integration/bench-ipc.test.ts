// dbos bench ipc, at a tiny scale: it runs all four systems through every
// pattern and writes results a reader can use (JSON, Markdown, SVG charts).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { dbos } from '../helpers/cli.js';

describe('dbos bench ipc', () => {
  it('compares DBOS with gRPC and TCP and writes JSON, Markdown and charts', () => {
    const out = mkdtempSync('/tmp/dbos-bench-out-');
    try {
      const r = dbos(['bench', 'ipc', '--sizes', '64', '--pairs', '1', '--receivers', '2', '--seconds', '0.3', '--idle', '2', '--idle-seconds', '1', '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { cells: { system: string; pattern: string; opsPerSecond: number; medianMs: number }[]; idle: { withDaemonPercentEach: number } };
      for (const system of ['dbos', 'grpc-unary', 'grpc-stream', 'tcp']) {
        for (const pattern of ['ping-pong', 'ping20-pong20', 'multicast']) {
          const cell = results.cells.find((c) => c.system === system && c.pattern === pattern);
          expect(cell, `${system} ${pattern}`).toBeDefined();
          expect(cell!.opsPerSecond).toBeGreaterThan(0);
          expect(cell!.medianMs).toBeGreaterThan(0);
        }
      }
      expect(results.idle.withDaemonPercentEach).toBeGreaterThanOrEqual(0);
      const md = readFileSync(join(out, 'results.md'), 'utf8');
      expect(md).toMatch(/## Targets/);
      expect(md).toMatch(/vs grpc-unary: \d+\.\d\d×/);
      for (const chart of ['ping-pong-latency.svg', 'ping20-throughput.svg', 'multicast-throughput.svg']) {
        expect(readFileSync(join(out, chart), 'utf8')).toMatch(/^<svg/);
      }
      expect(r.stdout).toContain('results: ');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('refuses a bad list in one plain sentence', () => {
    const r = dbos(['bench', 'ipc', '--pairs', '1,,2']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toMatch(/^dbos: --pairs must be a comma-separated list \(got "1,,2"\)\.$/);
  });
});
