// The benchmark's rounds: the order targets take turns in, and how a cell's
// rounds become one reported result.
import { describe, expect, it } from 'vitest';
import { combineMeasured, combineRates, combineStreams, inRounds, median, perTarget, versus } from '../../../fs/bench/rounds.js';
import type { Measured, Rate } from '../../../fs/bench/run.js';

const rate = (opsPerSecond: number, extra: Partial<Rate> = {}): Rate => ({ opsPerSecond, medianUs: opsPerSecond / 10, p99Us: opsPerSecond / 5, seconds: 10, ...extra });
const measured = <T>(t: T, peakRssBytes: number | null, innodbPagesRead: number | null, cpuBusy: number | null = null): Measured<T> =>
  ({ ...t, peakRssBytes, innodbPagesRead, cpuBusy });

describe('inRounds', () => {
  it('runs every cell once a round, each round starting one cell further on, and answers each cell\'s results in round order', async () => {
    const ran: string[] = [];
    const cells = ['a', 'b', 'c'].map((key) => ({ key, run: async (round: number) => { ran.push(`${key}${round}`); return `${key}:${round}`; } }));
    const seen: string[] = [];
    const out = await inRounds(3, cells, (round, key) => seen.push(`${key}${round}`));
    expect(ran).toEqual(['a0', 'b0', 'c0', 'b1', 'c1', 'a1', 'c2', 'a2', 'b2']);
    expect(seen).toEqual(ran);
    expect(out.get('a')).toEqual(['a:0', 'a:1', 'a:2']);
    expect(out.get('c')).toEqual(['c:0', 'c:1', 'c:2']);
  });

  it('runs one cell one round at a time: a round starts after the previous one ended', async () => {
    let running = 0;
    let most = 0;
    const cells = ['x', 'y'].map((key) => ({
      key,
      run: async () => {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 2));
        running--;
      },
    }));
    await inRounds(2, cells);
    expect(most).toBe(1);
  });
});

describe('combining rounds', () => {
  it('reports the median round of each rate, every round\'s ops/s, and the rounds\' total time', () => {
    const r = combineRates([rate(300), rate(100), rate(200)]);
    expect(r).toEqual({ opsPerSecond: 200, medianUs: 20, p99Us: 40, seconds: 30, roundsOpsPerSecond: [300, 100, 200] });
  });

  it('takes the lower middle round of an even number, a value that was measured', () => {
    expect(median([4, 1, 3, 2])).toBe(2);
    expect(combineRates([rate(10), rate(40)]).opsPerSecond).toBe(10);
  });

  it('keeps a cell\'s other fields, and a mean latency only where one was measured', () => {
    const r = combineRates([{ ...rate(5, { avgUs: 7 }), how: 'fsync' }, { ...rate(9, { avgUs: 3 }), how: 'fsync' }, { ...rate(7, { avgUs: 5 }), how: 'fsync' }]);
    expect(r.how).toBe('fsync');
    expect(r.avgUs).toBe(5);
    expect('avgUs' in combineRates([rate(1)])).toBe(false);
  });

  it('gives the highest peak RSS, the pages read over all rounds (unknown if any round\'s is), and the median of how busy the machine was', () => {
    const c = combineMeasured([measured(rate(1), 300, 5, 0.9), measured(rate(2), null, 7, 0.5), measured(rate(3), 200, 0, 0.7)], combineRates);
    expect([c.peakRssBytes, c.innodbPagesRead, c.opsPerSecond, c.cpuBusy]).toEqual([300, 12, 2, 0.7]);
    const d = combineMeasured([measured(rate(1), null, 1), measured(rate(2), null, null)], combineRates);
    expect([d.peakRssBytes, d.innodbPagesRead, d.cpuBusy]).toEqual([null, null, null]);
  });

  it('combines streams and every target of an experiment alike', () => {
    expect(combineStreams([{ mibPerSecond: 50, seconds: 2 }, { mibPerSecond: 70, seconds: 1 }, { mibPerSecond: 60, seconds: 1.5 }]))
      .toEqual({ mibPerSecond: 60, seconds: 4.5, roundsMibPerSecond: [50, 70, 60] });
    const all = perTarget(new Map([['ext4', [measured(rate(8), null, 0)]], ['bindfs', [measured(rate(4), 9, 0), measured(rate(6), 11, 0)]]]), combineRates);
    expect(all.ext4?.opsPerSecond).toBe(8);
    expect([all.bindfs?.opsPerSecond, all.bindfs?.peakRssBytes, all.bindfs?.roundsOpsPerSecond]).toEqual([4, 11, [4, 6]]);
  });

  it('compares two targets by their medians, with the lowest and highest ratio of rounds run in the same turn', () => {
    expect(versus([100, 300, 200], [400, 400, 1000])).toEqual({ median: 0.5, low: 0.2, high: 0.75 });
    expect(versus([], [1])).toBeNull();
  });
});
