// Printing query results: an aligned text table, or JSON for scripts. Binary
// columns print as text when they are UTF-8 (names are), else as hex.

export type Cell = unknown;

export function cellText(v: Cell): string {
  if (v === null || v === undefined) return 'NULL';
  if (Buffer.isBuffer(v)) {
    const text = v.toString('utf8');
    if (Buffer.from(text, 'utf8').equals(v) && !/[\u0000-\u0008\u000e-\u001f]/.test(text)) return text;
    return `0x${v.subarray(0, 32).toString('hex')}${v.length > 32 ? `… (${v.length} bytes)` : ''}`;
  }
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** JSON for one cell; DECIMAL integers that fit a double exactly become numbers. */
export function jsonValue(v: Cell, decimal = false): unknown {
  if (Buffer.isBuffer(v)) return cellText(v);
  if (decimal && typeof v === 'string' && /^-?\d+$/.test(v) && Number.isSafeInteger(Number(v))) return Number(v);
  if (typeof v === 'bigint') return v.toString();
  return v ?? null;
}

/** Right-aligns numbers, escapes newlines so every row stays on one line. */
export function formatTable(fields: string[], rows: Record<string, Cell>[]): string {
  const shown = (v: Cell) => cellText(v).replace(/\n/g, '\\n').replace(/\t/g, '\\t');
  const numeric = fields.map((f) => rows.length > 0 && rows.every((r) => r[f] === null || typeof r[f] === 'number' || /^-?\d+(\.\d+)?$/.test(String(r[f]))));
  const cells = rows.map((r) => fields.map((f) => shown(r[f])));
  const widths = fields.map((f, i) => Math.max(f.length, ...cells.map((c) => c[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => (numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [line(fields), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
  out.push(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
  return out.join('\n');
}
