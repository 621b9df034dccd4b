// Bar charts with whiskers: a bar's span (its lowest and highest round) is
// drawn, and the scale leaves room for it.
import { describe, expect, it } from 'vitest';
import { barChart } from '../../../cli/bench/chart.js';

const whiskers = (svg: string) => (svg.match(/<line [^>]*stroke="black"\/>/g) ?? []).length - 2; // less the two axes

describe('barChart', () => {
  it('draws a whisker (three lines) for each bar whose rounds differ, and none for one round or a bar not measured', () => {
    const svg = barChart({
      title: 't', yLabel: 'ops/s', groups: ['a', 'b'],
      series: [
        { name: 'x', values: [100, 50], spans: [[80, 130], [50, 50]] },
        { name: 'y', values: [70, null], spans: [[60, 90], null] },
        { name: 'z', values: [10, 20] },
      ],
    });
    expect(whiskers(svg)).toBe(6);
  });

  it('scales the axis to the highest round, not only to the medians', () => {
    const top = (svg: string) => Math.max(...[...svg.matchAll(/text-anchor="end">([\d.k]+)</g)].map((m) => parseFloat(m[1]!) * (m[1]!.endsWith('k') ? 1000 : 1)));
    const base = { title: 't', yLabel: 'ops/s', groups: ['a'] };
    expect(top(barChart({ ...base, series: [{ name: 'x', values: [100] }] }))).toBe(100);
    expect(top(barChart({ ...base, series: [{ name: 'x', values: [100], spans: [[90, 240]] }] }))).toBeGreaterThanOrEqual(240);
  });
});
