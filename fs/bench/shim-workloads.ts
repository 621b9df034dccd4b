// The experiments' workloads run through the POSIX shim, in this process, the
// way the paper's clients called DBOS: concurrent clients are concurrent async
// loops over one DbosFs (one connection pool). They do what the fio jobs and
// the C programs do on the mounted targets.
import { constants as fsc } from 'node:fs';
import { percentile } from '../../cli/bench/report.js';
import type { DbosFs } from '../dbosfs.js';
import type { IoWindow } from './machine-load.js';

export interface LatencyResult {
  ops: number;
  seconds: number;
  opsPerSecond: number;
  /** Per operation, microseconds. */
  medianUs: number;
  p99Us: number;
  meanUs: number;
}

export interface ThroughputResult {
  bytes: number;
  seconds: number;
  mibPerSecond: number;
}

const CHUNK = 128 << 10;

async function writeWhole(fs: DbosFs, path: string, bytes: number, ioBytes: number, data: Buffer): Promise<void> {
  const fd = await fs.create(path, 0o644);
  try {
    for (let off = 0; off < bytes; off += ioBytes) await fs.write(fd, data.subarray(0, Math.min(ioBytes, bytes - off)), off);
  } finally {
    await fs.release(fd);
  }
}

function latencies(sortedUs: number[], seconds: number): LatencyResult {
  const meanUs = sortedUs.reduce((a, b) => a + b, 0) / (sortedUs.length || 1);
  return { ops: sortedUs.length, seconds, opsPerSecond: sortedUs.length / seconds, medianUs: percentile(sortedUs, 50), p99Us: percentile(sortedUs, 99), meanUs };
}

export interface RandomBlocksOptions {
  dir: string;
  clients: number;
  filesPerClient: number;
  fileBytes: number;
  blockBytes: number;
  /** How many blocks are read or written per open (Figure 10a: 20; Figure 10b: 1, so every block is in another file). */
  blocksPerOpen: number;
  seconds: number;
}

/** Lays out each client's files (not timed) in `o.dir`, which must exist. */
export async function layoutRandomBlocks(fs: DbosFs, o: Omit<RandomBlocksOptions, 'blocksPerOpen' | 'seconds'>): Promise<void> {
  const data = Buffer.alloc(CHUNK, 0x5a);
  await Promise.all(Array.from({ length: o.clients }, async (_, c) => {
    for (let f = 0; f < o.filesPerClient; f++) await writeWhole(fs, `${o.dir}/c${c}.f${f}`, o.fileBytes, CHUNK, data);
  }));
}

/** Figure 10: open a random file of one's own, read or write `blocksPerOpen` random blocks (half each), close. */
export async function randomBlocks(fs: DbosFs, o: RandomBlocksOptions): Promise<LatencyResult> {
  const blocks = Math.floor(o.fileBytes / o.blockBytes);
  const payload = Buffer.alloc(o.blockBytes, 0xa5);
  const samples: number[] = [];
  const start = performance.now();
  const end = start + o.seconds * 1000;
  await Promise.all(Array.from({ length: o.clients }, async (_, c) => {
    while (performance.now() < end) {
      const fd = await fs.open(`${o.dir}/c${c}.f${Math.floor(Math.random() * o.filesPerClient)}`, fsc.O_RDWR);
      try {
        for (let i = 0; i < o.blocksPerOpen; i++) {
          const off = Math.floor(Math.random() * blocks) * o.blockBytes;
          const t0 = performance.now();
          if (Math.random() < 0.5) await fs.read(fd, o.blockBytes, off);
          else await fs.write(fd, payload, off);
          samples.push((performance.now() - t0) * 1000);
        }
      } finally {
        await fs.release(fd);
      }
    }
  }));
  const seconds = (performance.now() - start) / 1000;
  return latencies(samples.sort((a, b) => a - b), seconds);
}

export type CreateMode = 'create' | 'delete';

/** Table 1: `threads` clients each create (or delete) `perThread` empty files in a directory of their own. */
export async function createDelete(fs: DbosFs, dir: string, threads: number, perThread: number, mode: CreateMode): Promise<LatencyResult> {
  if (mode === 'create') await fs.mkdir(dir, 0o755);
  const samples: number[] = [];
  const start = performance.now();
  await Promise.all(Array.from({ length: threads }, async (_, t) => {
    const d = `${dir}/t${t}`;
    if (mode === 'create') await fs.mkdir(d, 0o755);
    for (let i = 0; i < perThread; i++) {
      const t0 = performance.now();
      if (mode === 'create') await fs.release(await fs.create(`${d}/f${i}`, 0o644, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY));
      else await fs.unlink(`${d}/f${i}`);
      samples.push((performance.now() - t0) * 1000);
    }
  }));
  const seconds = (performance.now() - start) / 1000;
  return latencies(samples.sort((a, b) => a - b), seconds);
}

/**
 * Figure 11 and the sequential experiment: each client writes, or reads back
 * (`passes` times, opening the file for each), a file of its own from start to end.
 */
export async function streams(fs: DbosFs, dir: string, clients: number, fileBytes: number, ioBytes: number, phase: 'write' | 'read', passes = 1): Promise<ThroughputResult & { ioWindow: IoWindow }> {
  const data = Buffer.alloc(ioBytes, 0x3c);
  const startMs = Date.now();
  const start = performance.now();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    const path = `${dir}/s${c}`;
    if (phase === 'write') {
      await writeWhole(fs, path, fileBytes, ioBytes, data);
      return;
    }
    for (let pass = 0; pass < passes; pass++) {
      const fd = await fs.open(path, fsc.O_RDONLY);
      try {
        for (let off = 0; off < fileBytes; off += ioBytes) await fs.read(fd, ioBytes, off);
      } finally {
        await fs.release(fd);
      }
    }
  }));
  const seconds = (performance.now() - start) / 1000;
  const bytes = clients * fileBytes * (phase === 'read' ? passes : 1);
  return { bytes, seconds, mibPerSecond: bytes / 2 ** 20 / seconds, ioWindow: { startMs, endMs: Date.now() } };
}
