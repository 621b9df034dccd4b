// Repeated measurements for `dbos bench fs`. One run of a cell on this VM can
// be off by 2× (bindfs's Figure 10b measured 4.1k to 11.6k ops/s in one
// stop), so each cell runs several rounds, targets taking turns, and the
// report gives the median round with the spread beside it.
import { percentile } from '../../cli/bench/report.js';
import type { Measured, Rate, Stream } from './run.js';

export interface Cell<K, T> {
  key: K;
  /** One measurement; `round` counts from 0, for cells that need a fresh directory each time. */
  run: (round: number) => Promise<T>;
}

/**
 * Runs every cell `rounds` times: round r runs all the cells once, starting
 * r cells further on. So a target's rounds are spread over the whole
 * experiment, no target always runs first or right after the same neighbour,
 * and a slow drift of the machine (a cache filling, a neighbour VM) falls on
 * every target alike. Answers each cell's results in the order of its rounds.
 */
export async function inRounds<K, T>(rounds: number, cells: Cell<K, T>[], log?: (round: number, key: K) => void): Promise<Map<K, T[]>> {
  const out = new Map<K, T[]>(cells.map((c) => [c.key, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < cells.length; i++) {
      const c = cells[(r + i) % cells.length]!;
      log?.(r, c.key);
      out.get(c.key)!.push(await c.run(r));
    }
  }
  return out;
}

export const median = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 50);

/**
 * The median of one measure over rounds. The median of an even number of
 * rounds is the lower middle one, a round that was measured, not an average.
 */
export function medianOf<T>(rounds: T[], value: (t: T) => number): number {
  return median(rounds.map(value));
}

/** The lowest and highest of the rounds' values. */
export function spanOf(xs: number[]): [number, number] {
  return [Math.min(...xs), Math.max(...xs)];
}

/**
 * a against b: the ratio of their median rounds, and the lowest and highest
 * of the rounds' own ratios (round i against round i, run in the same turn).
 */
export function versus(a: number[], b: number[]): { median: number; low: number; high: number } | null {
  if (!a.length || !b.length) return null;
  const [low, high] = spanOf(a.slice(0, b.length).map((v, i) => v / b[i]!));
  return { median: median(a) / median(b), low, high };
}

/**
 * One result for a cell's rounds: the median of each rate, the rounds'
 * values beside it, the highest peak RSS, the InnoDB pages read in all, and
 * the median of how busy the machine was.
 */
export function combineMeasured<T>(rounds: Measured<T>[], combine: (ts: Measured<T>[]) => T): Measured<T> {
  const peaks = rounds.map((r) => r.peakRssBytes).filter((v): v is number => v !== null);
  const pages = rounds.map((r) => r.innodbPagesRead);
  const busy = rounds.map((r) => r.cpuBusy).filter((v): v is number => v !== null);
  return {
    ...combine(rounds),
    peakRssBytes: peaks.length ? Math.max(...peaks) : null,
    innodbPagesRead: pages.every((v) => v !== null) ? pages.reduce((a, b) => a! + b!, 0) : null,
    cpuBusy: busy.length ? median(busy) : null,
  };
}

export function combineRates<R extends Rate>(rs: R[]): R {
  return {
    ...rs[0]!,
    opsPerSecond: medianOf(rs, (r) => r.opsPerSecond),
    medianUs: medianOf(rs, (r) => r.medianUs),
    p99Us: medianOf(rs, (r) => r.p99Us),
    ...(rs[0]!.avgUs === undefined ? {} : { avgUs: medianOf(rs, (r) => r.avgUs!) }),
    seconds: rs.reduce((a, r) => a + r.seconds, 0),
    roundsOpsPerSecond: rs.map((r) => r.opsPerSecond),
  };
}

export function combineStreams(ss: Stream[]): Stream {
  return { mibPerSecond: medianOf(ss, (s) => s.mibPerSecond), seconds: ss.reduce((a, s) => a + s.seconds, 0), roundsMibPerSecond: ss.map((s) => s.mibPerSecond) };
}

/** Every target's rounds combined into one result per target. */
export function perTarget<K extends string, T>(rounds: Map<K, Measured<T>[]>, combine: (ts: Measured<T>[]) => T): Partial<Record<K, Measured<T>>> {
  return Object.fromEntries([...rounds].map(([k, rs]) => [k, combineMeasured(rs, combine)])) as Partial<Record<K, Measured<T>>>;
}
