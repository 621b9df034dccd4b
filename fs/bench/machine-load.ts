// How busy the whole machine was during a measurement: whether a result that
// stops growing with load stopped because every core was busy (the machine
// saturated) or for another reason (one thread, a lock, latency).
import { readFileSync } from 'node:fs';

/** Busy and total jiffies of all cores since boot (/proc/stat's first line); iowait counts as idle. */
function cpuJiffies(): { busy: number; total: number } {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  return { busy, total: busy + idle! + iowait! };
}

/** The interval a throughput was measured over (epoch ms), when the tool reports it. */
export interface IoWindow {
  startMs: number;
  endMs: number;
}

/** How often machineBusy samples /proc/stat: the kernel counts in 10 ms ticks. */
const SAMPLE_MS = 10;

/**
 * Starts counting; stop() answers the share of all cores' time that was busy
 * (0 to 1), or null if nothing elapsed. Given the window the tool measured its
 * throughput over, stop() answers the share within it: a tool's start-up (fio
 * spends about 0.3 s of one core before its first I/O) would otherwise dilute
 * a short cell's load and make a saturated machine look idle. `jiffies` reads
 * the counters (/proc/stat; tests give their own).
 */
export function machineBusy(jiffies = cpuJiffies): { stop(window?: IoWindow): number | null } {
  const samples = [{ ms: Date.now(), ...jiffies() }];
  const timer = setInterval(() => samples.push({ ms: Date.now(), ...jiffies() }), SAMPLE_MS);
  timer.unref(); // a measurement that throws never calls stop()
  return {
    stop(window) {
      clearInterval(timer);
      samples.push({ ms: Date.now(), ...jiffies() });
      // The last sample at or before the window's start and the first at or after its end.
      const a = window ? samples.filter((s) => s.ms <= window.startMs).pop() ?? samples[0]! : samples[0]!;
      const b = window ? samples.find((s) => s.ms >= window.endMs) ?? samples[samples.length - 1]! : samples[samples.length - 1]!;
      return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : null;
    },
  };
}

/** From this share of all cores busy on, the machine counts as saturated. */
export const SATURATED = 0.85;

export interface LoadPoint {
  clients: number;
  value: number;
  cpuBusy: number | null;
}

/**
 * Whether throughput grows with clients until the machine saturates: every
 * step up in clients must raise `value` until a step that ran with the
 * machine saturated; after it, anything goes. Answers the first step that
 * did not grow while the machine had cores to spare, if any (from and to
 * how many clients), and the first saturated one.
 */
export function growsUntilSaturated(points: LoadPoint[]): { met: boolean; stalledFrom?: number; stalledAt?: number; saturatedAt?: number } {
  const ps = [...points].sort((a, b) => a.clients - b.clients);
  for (let i = 0; i < ps.length - 1; i++) {
    if ((ps[i]!.cpuBusy ?? 0) >= SATURATED) return { met: true, saturatedAt: ps[i]!.clients };
    if (!(ps[i + 1]!.value > ps[i]!.value)) return { met: false, stalledFrom: ps[i]!.clients, stalledAt: ps[i + 1]!.clients };
  }
  const last = ps[ps.length - 1];
  return { met: true, ...(last && (last.cpuBusy ?? 0) >= SATURATED ? { saturatedAt: last.clients } : {}) };
}
