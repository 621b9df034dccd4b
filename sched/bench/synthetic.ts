// The paper's Figure 5 on this machine: scheduling decisions only (tasks are
// assigned, never run). 40 schedulers, each on its own connection, call a
// policy's procedure at an offered rate that rises step by step (open loop:
// latency counts from when a decision was due, so queueing is not hidden).
// Plus the ceiling: the same database's raw single-row transaction rate.
import { Db } from '../../schema/db.js';
import { percentile } from '../../cli/bench/report.js';
import type { DbTarget } from '../../schema/url.js';
import { decide, listPolicies, type Policy } from '../policies.js';

export interface StepResult {
  offered: number;        // decisions per second asked for
  achieved: number;       // decisions per second done
  medianMs: number;
  p99Ms: number;
  assigned: number;       // decisions that found a worker
}

export interface PolicyCurve {
  policy: string;
  steps: StepResult[];
  closedLoop: StepResult;  // as fast as the 40 schedulers go
}

export interface SyntheticOptions {
  schedulers: number;
  workers: number;
  partitions: number;
  steps: number[];
  stepSeconds: number;
  log?: (msg: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Workers with room that never runs out during the run, spread over the partitions. */
export async function addWorkers(db: Db, count: number, partitions: number): Promise<void> {
  for (let i = 0; i < count; i += 500) {
    const n = Math.min(500, count - i);
    const rows = Array.from({ length: n }, () => "(?, 1000000, 1000000, 1099511627776, 1099511627776, 'alive', 'bench', 0, NOW(6), NOW(6))");
    const params = Array.from({ length: n }, (_, k) => (i + k) % partitions);
    await db.run(`INSERT INTO Worker (p_key, unused_capacity, capacity, memory_total, memory_free, state, host_name, pid, started_at, heartbeat_at)
                  VALUES ${rows.join(', ')}`, params);
  }
}

/** Queued tasks for one step; returns their ids. */
async function addTasks(db: Db, count: number, policy: string, partitions: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < count; i += 1000) {
    const n = Math.min(1000, count - i);
    const rows = Array.from({ length: n }, () => "(?, 'queued', ?, 0, 0, ?, 'root', 0, 0, '[\"true\"]', '{}', '/', NOW(6))");
    const params = Array.from({ length: n }, (_, k) => [(i + k) % partitions, policy, (i + k) % partitions]).flat();
    const first = await db.insert(`INSERT INTO Task (p_key, state, policy, priority, memory, home_partition, owner, uid, gid, command, env, cwd, submit_time)
                                   VALUES ${rows.join(', ')}`, params);
    // InnoDB gives a multi-row INSERT consecutive ids (innodb_autoinc_lock_mode 1 or 2 without interleaving here).
    for (let k = 0; k < n; k++) ids.push(first + k);
  }
  return ids;
}

/** One load step: `rate` decisions per second for `seconds` (rate Infinity: closed loop). */
async function step(conns: Db[], policy: Policy, ids: number[], rate: number, seconds: number, partitions: number): Promise<StepResult> {
  const total = Number.isFinite(rate) ? Math.min(ids.length, Math.round(rate * seconds)) : ids.length;
  const latencies: number[] = [];
  let assigned = 0;
  let next = 0;
  const t0 = performance.now() + 20;
  const deadline = t0 + seconds * 1000;
  let last = t0;
  await Promise.all(conns.map(async (db) => {
    for (;;) {
      const k = next++;
      if (k >= total) return;
      const due = Number.isFinite(rate) ? t0 + (k * 1000) / rate : Math.max(performance.now(), t0);
      if (!Number.isFinite(rate) && due > deadline) return;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      const id = ids[k]!;
      const partition = policy.partitionArg === 'home' ? id % partitions : Math.floor(Math.random() * partitions);
      if (await decide(db, policy, id, partition)) assigned++;
      const done = performance.now();
      latencies.push(done - due);
      last = Math.max(last, done);
    }
  }));
  latencies.sort((a, b) => a - b);
  return {
    offered: Number.isFinite(rate) ? rate : 0,
    achieved: latencies.length / ((last - t0) / 1000),
    medianMs: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    assigned,
  };
}

export async function syntheticScheduling(target: DbTarget, o: SyntheticOptions): Promise<PolicyCurve[]> {
  const db = new Db(target);
  const conns = Array.from({ length: o.schedulers }, () => new Db(target, { poolSize: 1, opTimeoutMs: 30_000 }));
  try {
    await addWorkers(db, o.workers, o.partitions);
    const curves: PolicyCurve[] = [];
    for (const policy of await listPolicies(db)) {
      o.log?.(`synthetic: ${policy.name}`);
      // Warm up each connection's procedure cache.
      await step(conns, policy, await addTasks(db, o.schedulers * 5, policy.name, o.partitions), Infinity, 1, o.partitions);
      const closedLoop = await step(conns, policy, await addTasks(db, Math.ceil(25_000 * o.stepSeconds), policy.name, o.partitions), Infinity, o.stepSeconds, o.partitions);
      await db.run("DELETE FROM Task WHERE state = 'queued'");
      const steps: StepResult[] = [];
      // Always include half the measured maximum: the paper's latency point.
      const half = Math.round(closedLoop.achieved / 2 / 10) * 10;
      for (const rate of [...new Set([...o.steps, half])].sort((a, b) => a - b)) {
        const ids = await addTasks(db, Math.ceil(rate * o.stepSeconds), policy.name, o.partitions);
        const r = await step(conns, policy, ids, rate, o.stepSeconds, o.partitions);
        steps.push(r);
        o.log?.(`  ${rate}/s offered: ${r.achieved.toFixed(0)}/s, median ${r.medianMs.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms`);
        if (r.achieved < 0.8 * rate && steps.length > 1 && steps[steps.length - 2]!.achieved < 0.8 * steps[steps.length - 2]!.offered) break;
      }
      curves.push({ policy: policy.name, steps, closedLoop });
      // Keep the tables small between policies: finished work only costs index space.
      await db.run('DELETE FROM Task');
      await db.run('UPDATE Worker SET unused_capacity = capacity, memory_free = memory_total');
    }
    return curves;
  } finally {
    await Promise.all(conns.map((c) => c.close()));
    await db.close();
  }
}

/** The ceiling: single-row autocommit UPDATEs, one row per connection, as fast as they go. */
export async function singleRowCeiling(target: DbTarget, connections: number, seconds: number): Promise<{ perSecond: number; medianMs: number; p99Ms: number }> {
  const db = new Db(target);
  await db.ddl('CREATE TABLE IF NOT EXISTS Bench_counter (id INT NOT NULL PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB');
  for (let i = 0; i < connections; i++) await db.run('INSERT IGNORE INTO Bench_counter (id, n) VALUES (?, 0)', [i]);
  const conns = Array.from({ length: connections }, () => new Db(target, { poolSize: 1 }));
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(conns.map(async (c, i) => {
    while (performance.now() < end) {
      const s = performance.now();
      await c.run('UPDATE Bench_counter SET n = n + 1 WHERE id = ?', [i]);
      lat.push(performance.now() - s);
    }
  }));
  const elapsed = (performance.now() - t0) / 1000;
  await Promise.all(conns.map((c) => c.close()));
  await db.close();
  lat.sort((a, b) => a - b);
  return { perSecond: lat.length / elapsed, medianMs: percentile(lat, 50), p99Ms: percentile(lat, 99) };
}
