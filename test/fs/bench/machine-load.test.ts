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
    expect(growsUntilSaturated(curve([1, 91, 0.7], [2, 83, 0.74], [4, 125, 0.84]))).toEqual({ met: false, stalledAt: 2 });
    expect(growsUntilSaturated(curve([1, 50, 0.5], [2, 50, null]))).toEqual({ met: false, stalledAt: 2 });
  });
});
