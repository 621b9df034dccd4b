// How busy the machine was, and what "grows with clients until the machine
// saturates" means for a measured curve.
import { describe, expect, it } from 'vitest';
import { growsUntilSaturated, machineBusy, SATURATED } from '../../../fs/bench/machine-load.js';

const curve = (...ps: [number, number, number | null][]) => ps.map(([clients, value, cpuBusy]) => ({ clients, value, cpuBusy }));

describe('machineBusy', () => {
  it('sees a core kept busy as a share of all cores between 0 and 1', async () => {
    const m = machineBusy();
    const end = Date.now() + 300;
    while (Date.now() < end) Math.sqrt(Math.random());
    const busy = m.stop();
    expect(busy).not.toBeNull();
    expect(busy!).toBeGreaterThan(0.2);
    expect(busy!).toBeLessThanOrEqual(1);
  });

  it('answers the share within the window a tool measured over, not the tool\'s start-up around it', async () => {
    // Counters as /proc/stat would give them: idle for 300 ms, every core busy for 600, idle again.
    const t0 = Date.now();
    const [from, to] = [t0 + 300, t0 + 900];
    const jiffies = () => {
      const now = Date.now();
      return { busy: Math.max(0, Math.min(now, to) - from), total: now - t0 };
    };
    const m = machineBusy(jiffies);
    await new Promise((r) => setTimeout(r, 1200));
    expect(m.stop({ startMs: from, endMs: to })).toBeGreaterThan(0.8);
    expect(m.stop()).toBeLessThan(0.6);
  });
});

describe('growsUntilSaturated', () => {
  it('is met by a curve that grows at every step', () => {
    expect(growsUntilSaturated(curve([1, 50, 0.4], [2, 80, 0.6], [4, 90, 0.7]))).toEqual({ met: true });
  });

  it('lets the curve go flat or fall once a step ran with the machine saturated', () => {
    expect(growsUntilSaturated(curve([1, 50, 0.5], [2, 90, SATURATED], [4, 80, 0.95], [8, 85, 0.97]))).toEqual({ met: true, saturatedAt: 2 });
    expect(growsUntilSaturated(curve([4, 80, 0.95], [1, 90, 0.9]))).toEqual({ met: true, saturatedAt: 1 });
  });

  it('is not met when a step does not grow while the machine had cores to spare', () => {
    expect(growsUntilSaturated(curve([1, 91, 0.7], [2, 83, 0.74], [4, 125, 0.84]))).toEqual({ met: false, stalledFrom: 1, stalledAt: 2 });
    expect(growsUntilSaturated(curve([1, 50, 0.5], [2, 50, null]))).toEqual({ met: false, stalledFrom: 1, stalledAt: 2 });
  });
});
