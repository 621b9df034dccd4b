// fio jobs for the mounted targets, and what `dbos bench fs` reads from fio's
// JSON: operations per second, bandwidth and completion-latency percentiles,
// reads and writes reported together (unified_rw_reporting=mixed).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { IoWindow } from './machine-load.js';

const execFileAsync = promisify(execFile);

export interface FioResult {
  /** The exact command line, for results.json. */
  args: string[];
  opsPerSecond: number;
  mibPerSecond: number;
  medianUs: number;
  p99Us: number;
  seconds: number;
  /** When the jobs did their I/O: fio's report time, less the longest job's runtime. */
  ioWindow: IoWindow;
}

interface FioJson {
  timestamp_ms: number;
  jobs: { job_runtime: number; mixed: { iops: number; bw_bytes: number; runtime: number; clat_ns: { percentile?: Record<string, number> } } }[];
}

export async function fio(dir: string, name: string, options: Record<string, string | number>): Promise<FioResult> {
  const args = [
    `--name=${name}`, `--directory=${dir}`, '--group_reporting', '--unified_rw_reporting=mixed', '--output-format=json',
    ...Object.entries(options).map(([k, v]) => `--${k}=${v}`),
  ];
  const { stdout } = await execFileAsync('fio', args, { maxBuffer: 64 << 20, timeout: 3_600_000 });
  // fio may print notes before the JSON document.
  const parsed = JSON.parse(stdout.slice(stdout.indexOf('{'))) as FioJson;
  const job = parsed.jobs[0];
  if (!job) throw new Error(`fio ${name} reported no job`);
  const pct = job.mixed.clat_ns.percentile ?? {};
  return {
    args: ['fio', ...args],
    opsPerSecond: job.mixed.iops,
    mibPerSecond: job.mixed.bw_bytes / 2 ** 20,
    medianUs: (pct['50.000000'] ?? NaN) / 1000,
    p99Us: (pct['99.000000'] ?? NaN) / 1000,
    // job_runtime sums the jobs' runtimes under group_reporting; the phase's runtime is the group's.
    seconds: job.mixed.runtime / 1000,
    ioWindow: { startMs: parsed.timestamp_ms - job.mixed.runtime, endMs: parsed.timestamp_ms },
  };
}

/**
 * Sequential streams, one file per client; writes end with fsync so that they
 * count what reached the filesystem. Reads go `passes` times through the file;
 * fio opens it again for each pass and, with its default invalidate=1, drops
 * its pages from the kernel's cache first, so every pass reaches the filesystem.
 */
export function streamJob(o: { clients: number; fileBytes: number; ioBytes: number; phase: 'write' | 'read'; passes?: number }) {
  return {
    numjobs: o.clients, nrfiles: 1, filesize: o.fileBytes, bs: o.ioBytes, rw: o.phase, ioengine: 'psync',
    ...(o.phase === 'write' ? { end_fsync: 1, fallocate: 'none' } : { loops: o.passes ?? 1 }),
  };
}
