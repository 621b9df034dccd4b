// Small SVG charts for benchmark reports: line charts (a metric against a
// load) and grouped bar charts (systems side by side). No dependencies.

export interface Series {
  name: string;
  points: [number, number][];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f'];
const W = 760;
const H = 420;
const M = { top: 40, right: 210, bottom: 56, left: 80 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function fmt(v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e4) return `${+(v / 1e3).toFixed(0)}k`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(v < 10 ? 2 : 0)}`;
}

/** Maps data values to pixels, linearly from 0 or logarithmically, with the ticks to draw. */
interface Scale {
  at(v: number): number;
  ticks: number[];
}

function scale(values: number[], log: boolean, length: number, from: number, flip: boolean): Scale {
  const positive = values.filter((v) => v > 0);
  if (log) {
    const lo = Math.floor(Math.log10(Math.min(...positive, 1)));
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...positive, 1))));
    const at = (v: number) => {
      const f = (Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo);
      return flip ? from + length - f * length : from + f * length;
    };
    return { at, ticks: Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i)) };
  }
  const max = Math.max(1, ...positive);
  const p = 10 ** Math.floor(Math.log10(max));
  const top = ([1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find((m) => m * p >= max) ?? 10) * p;
  const at = (v: number) => (flip ? from + length - (v / top) * length : from + (v / top) * length);
  return { at, ticks: Array.from({ length: 6 }, (_, i) => (top * i) / 5) };
}

function frame(title: string, xLabel: string, yLabel: string, y: Scale): string[] {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.left + PW / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="${M.left + PW / 2}" y="${H - 14}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(18 ${M.top + PH / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  ];
  for (const t of y.ticks) {
    const py = y.at(t).toFixed(1);
    out.push(`<line x1="${M.left}" x2="${M.left + PW}" y1="${py}" y2="${py}" stroke="#ddd"/>`,
      `<text x="${M.left - 6}" y="${+py + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + PH}" stroke="black"/>`,
    `<line x1="${M.left}" x2="${M.left + PW}" y1="${M.top + PH}" y2="${M.top + PH}" stroke="black"/>`);
  return out;
}

function legend(names: string[]): string[] {
  return names.flatMap((n, i) => [
    `<rect x="${W - M.right + 14}" y="${M.top + i * 20}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`,
    `<text x="${W - M.right + 32}" y="${M.top + i * 20 + 10}">${esc(n)}</text>`,
  ]);
}

/** Lines of (x, y) points; `log` puts y on a log scale (for latencies). */
export function lineChart(o: { title: string; xLabel: string; yLabel: string; series: Series[]; log?: boolean }): string {
  const x = scale(o.series.flatMap((s) => s.points.map((p) => p[0])), false, PW, M.left, false);
  const y = scale(o.series.flatMap((s) => s.points.map((p) => p[1])), !!o.log, PH, M.top, true);
  const out = frame(o.title, o.xLabel, o.yLabel + (o.log ? ' (log scale)' : ''), y);
  for (const t of x.ticks) out.push(`<text x="${x.at(t).toFixed(1)}" y="${M.top + PH + 18}" text-anchor="middle">${fmt(t)}</text>`);
  o.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = [...s.points].sort((a, b) => a[0] - b[0]).filter((p) => !o.log || p[1] > 0);
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((p) => `${x.at(p[0]).toFixed(1)},${y.at(p[1]).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${x.at(p[0]).toFixed(1)}" cy="${y.at(p[1]).toFixed(1)}" r="3" fill="${c}"/>`);
  });
  out.push(...legend(o.series.map((s) => s.name)), '</svg>');
  return out.join('\n');
}

/**
 * Groups of bars: one group per label, one bar per series (null: not
 * measured). A bar's span, if given, is drawn as a whisker from its lowest to
 * its highest round.
 */
export function barChart(o: {
  title: string; yLabel: string; groups: string[]; series: { name: string; values: (number | null)[]; spans?: ([number, number] | null)[] }[]; log?: boolean;
}): string {
  const y = scale(o.series.flatMap((s) => [...s.values, ...(s.spans ?? []).flatMap((p) => p ?? [])].filter((v): v is number => v !== null)), !!o.log, PH, M.top, true);
  const out = frame(o.title, '', o.yLabel + (o.log ? ' (log scale)' : ''), y);
  const gw = PW / o.groups.length;
  const bw = (gw * 0.8) / o.series.length;
  const base = M.top + PH;
  o.groups.forEach((g, gi) => {
    out.push(`<text x="${(M.left + gw * gi + gw / 2).toFixed(1)}" y="${base + 18}" text-anchor="middle">${esc(g)}</text>`);
    o.series.forEach((s, si) => {
      const v = s.values[gi];
      if (v === null || v === undefined || !(v > 0)) return;
      const x0 = M.left + gw * gi + gw * 0.1 + bw * si;
      const top = y.at(v);
      const span = s.spans?.[gi];
      const cx = (x0 + bw / 2).toFixed(1);
      out.push(`<rect x="${x0.toFixed(1)}" y="${top.toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(base - top).toFixed(1)}" fill="${COLORS[si % COLORS.length]}"/>`);
      if (span && span[0] < span[1]) {
        const [lo, hi] = [y.at(span[0]).toFixed(1), y.at(span[1]).toFixed(1)];
        out.push(`<line x1="${cx}" x2="${cx}" y1="${lo}" y2="${hi}" stroke="black"/>`,
          `<line x1="${(x0 + bw / 4).toFixed(1)}" x2="${(x0 + (3 * bw) / 4).toFixed(1)}" y1="${hi}" y2="${hi}" stroke="black"/>`,
          `<line x1="${(x0 + bw / 4).toFixed(1)}" x2="${(x0 + (3 * bw) / 4).toFixed(1)}" y1="${lo}" y2="${lo}" stroke="black"/>`);
      }
      const labelAt = Math.min(top, span ? y.at(span[1]) : top);
      out.push(`<text x="${cx}" y="${(labelAt - 4).toFixed(1)}" text-anchor="middle" font-size="10">${fmt(v)}</text>`);
    });
  });
  out.push(...legend(o.series.map((s) => s.name)), '</svg>');
  return out.join('\n');
}
