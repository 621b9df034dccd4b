// fio jobs for the mounted targets, and what `dbos bench fs` reads from fio's
// JSON: operations per second, bandwidth and completion-latency percentiles,
// reads and writes reported together (unified_rw_reporting=mixed).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface FioResult {
  /** The exact command line, for results.json. */
  args: string[];
  opsPerSecond: number;
  mibPerSecond: number;
  medianUs: number;
  p99Us: number;
  seconds: number;
}

interface FioJson {
  jobs: { job_runtime: number; mixed: { iops: number; bw_bytes: number; clat_ns: { percentile?: Record<string, number> } } }[];
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
    seconds: job.job_runtime / 1000,
  };
}

/** Sequential streams, one file per client; writes end with fsync so that they count what reached the filesystem. */
export function streamJob(o: { clients: number; fileBytes: number; ioBytes: number; phase: 'write' | 'read' }) {
  return {
    numjobs: o.clients, nrfiles: 1, filesize: o.fileBytes, bs: o.ioBytes, rw: o.phase, ioengine: 'psync',
    ...(o.phase === 'write' ? { end_fsync: 1, fallocate: 'none' } : {}),
  };
}
