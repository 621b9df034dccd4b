// Sizes on the command line: 512, 64K, 512M, 2G, 1T (powers of 1024).
import { CliError } from './errors.js';

const UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

export function parseSize(text: string, what = 'size'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (!m) throw new CliError(`${what} must be a size such as 512M or 2G (got "${text}").`);
  const bytes = Math.round(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
  if (!Number.isSafeInteger(bytes)) throw new CliError(`${what} "${text}" is too large.`);
  return bytes;
}

export function formatSize(bytes: number): string {
  for (const [unit, scale] of [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (bytes >= scale) return `${(bytes / scale).toFixed(bytes % scale === 0 ? 0 : 1)}${unit}`;
  }
  return `${bytes}`;
}

export function wholeNumber(what: string, min = 0) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new CliError(`${what} must be a whole number${min > 0 ? ` of at least ${min}` : min === 0 ? ' of zero or more' : ''} (got "${v}").`);
    return n;
  };
}

/** A comma-separated list, each item parsed by `one` (e.g. "64,1K,8K" or "1,10,40"). */
export function listOf<T>(what: string, one: (v: string) => T) {
  return (v: string): T[] => {
    const items = v.split(',').map((x) => x.trim());
    if (items.some((x) => x === '')) throw new CliError(`${what} must be a comma-separated list (got "${v}").`);
    return items.map(one);
  };
}

export function positiveSeconds(what: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new CliError(`${what} must be a number of seconds above zero (got "${v}").`);
    return n;
  };
}
