// Benchmark output: one folder per run with results.json (every number and
// the exact parameters), results.md (tables for people) and SVG charts, plus
// a description of the machine, so that runs can be compared honestly.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import type { Db } from '../../schema/db.js';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  /** The benchmark process's Node flags (process.execArgv). */
  nodeFlags: string[];
  database: string;
  databaseSettings: Record<string, string>;
  date: string;
}

export async function describeMachine(db: Db): Promise<Machine> {
  const v = await db.rows<{ v: string }>('SELECT VERSION() AS v');
  const settings: Record<string, string> = {};
  for (const name of ['innodb_flush_log_at_trx_commit', 'innodb_buffer_pool_size', 'thread_handling', 'max_connections']) {
    const r = await db.rows<{ v: unknown }>(`SELECT @@${name} AS v`).catch(() => []);
    if (r[0]) settings[name] = String(r[0].v);
  }
  let kernel = release();
  try {
    kernel = execFileSync('uname', ['-srvm'], { encoding: 'utf8' }).trim();
  } catch {
    // keep os.release()
  }
  return {
    cores: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), kernel,
    node: process.version, nodeFlags: [...process.execArgv], database: String(v[0]?.v), databaseSettings: settings, date: new Date().toISOString(),
  };
}

/** A percentile of already-sorted numbers (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function summarize(values: number[]): { n: number; median: number; p99: number; mean: number } {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, median: percentile(s, 50), p99: percentile(s, 99), mean: s.reduce((a, b) => a + b, 0) / (s.length || 1) };
}

export function mdTable(headers: string[], rows: (string | number | null)[][]): string {
  const cell = (v: string | number | null) => (v === null ? '—' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 3 : 1)) : v);
  return [
    `| ${headers.join(' | ')} |`,
    `|${headers.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

export function machineMarkdown(m: Machine): string {
  return `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.kernel}; Node ${m.node}${m.nodeFlags.length ? ` (${m.nodeFlags.join(' ')})` : ''}; ${m.database} ` +
    `(${Object.entries(m.databaseSettings).map(([k, v]) => `${k}=${v}`).join(', ')}); ${m.date}.`;
}

export interface Report {
  dir: string;
  write(name: string, content: string): string;
}

/** Creates the output folder (default results/<kind>-<timestamp>). */
export function openReport(kind: string, outDir?: string): Report {
  const dir = resolve(outDir ?? join('results', `${kind}-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`));
  mkdirSync(dir, { recursive: true });
  return {
    dir,
    write(name: string, content: string) {
      const p = join(dir, name);
      writeFileSync(p, content);
      return p;
    },
  };
}
