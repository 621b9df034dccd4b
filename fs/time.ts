// Timestamps with nanoseconds. The database stores DECIMAL(20,9) seconds since
// the epoch, which is exact, sortable and readable by FROM_UNIXTIME() in SQL.

export interface Timespec {
  sec: number;
  nsec: number;
}

export function now(): Timespec {
  const ns = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
  return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) };
}

/** Exact: {sec: -1, nsec: 5e8} is -0.5 s, so the sign applies to the whole value. */
export function toDecimal(t: Timespec): string {
  const total = BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);
  const abs = total < 0n ? -total : total;
  return `${total < 0n ? '-' : ''}${abs / 1_000_000_000n}.${String(abs % 1_000_000_000n).padStart(9, '0')}`;
}

export function fromDecimal(v: unknown): Timespec {
  const text = String(v);
  const negative = text.startsWith('-');
  const [whole, frac = ''] = (negative ? text.slice(1) : text).split('.');
  const sec = Number(whole);
  const nsec = Number(frac.padEnd(9, '0').slice(0, 9));
  if (!negative) return { sec, nsec };
  return nsec === 0 ? { sec: -sec, nsec: 0 } : { sec: -sec - 1, nsec: 1_000_000_000 - nsec };
}

export function compareTime(a: Timespec, b: Timespec): number {
  return a.sec - b.sec || a.nsec - b.nsec;
}

export function laterOf(a: Timespec, b: Timespec): Timespec {
  return compareTime(a, b) >= 0 ? a : b;
}

export function toMs(t: Timespec): number {
  return t.sec * 1000 + t.nsec / 1e6;
}
