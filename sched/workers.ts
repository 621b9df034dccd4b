// SQL for the Worker table: registration, heartbeats, and the reaper that
// declares silent workers dead.
import type { Queryable } from '../schema/db.js';

export interface WorkerRow {
  workerId: number;
  pKey: number;
  capacity: number;
  unusedCapacity: number;
  memoryTotal: number;
  memoryFree: number;
  state: 'alive' | 'dead' | 'stopped';
  host: string;
  pid: number;
  startedAt: string;
  heartbeatAt: string;
  heartbeatAgeMs: number;
}

export async function register(q: Queryable, w: { pKey: number; capacity: number; memory: number; host: string; pid: number }): Promise<number> {
  return q.insert(
    `INSERT INTO Worker (p_key, unused_capacity, capacity, memory_total, memory_free, state, host_name, pid, started_at, heartbeat_at)
     VALUES (?, ?, ?, ?, ?, 'alive', ?, ?, NOW(6), NOW(6))`,
    [w.pKey, w.capacity, w.capacity, w.memory, w.memory, w.host, w.pid]);
}

/** Returns false if the worker has been declared dead (or stopped) meanwhile. */
export async function heartbeat(q: Queryable, workerId: number): Promise<boolean> {
  return (await q.run("UPDATE Worker SET heartbeat_at = NOW(6) WHERE worker_id = ? AND state = 'alive'", [workerId])) === 1;
}

/** A worker leaving on purpose: no more capacity; the reaper requeues its tasks. */
export async function markStopped(q: Queryable, workerId: number): Promise<void> {
  await q.run("UPDATE Worker SET state = 'stopped', unused_capacity = 0, memory_free = 0 WHERE worker_id = ?", [workerId]);
}

/** Whether any live worker has room at all (one index lookup). */
export async function anyRoom(q: Queryable): Promise<boolean> {
  const rows = await q.rows<{ room: number | null }>('SELECT MAX(unused_capacity) AS room FROM Worker');
  return Number(rows[0]?.room ?? 0) > 0;
}

/** The partition with the fewest live workers, for a worker that does not choose one. */
export async function emptiestPartition(q: Queryable): Promise<number> {
  const rows = await q.rows<{ p_key: number }>(
    `SELECT m.p_key FROM Map m LEFT JOIN Worker w ON w.p_key = m.p_key AND w.state = 'alive'
      GROUP BY m.p_key ORDER BY COUNT(w.worker_id), m.p_key LIMIT 1`);
  return Number(rows[0]?.p_key ?? 0);
}

export async function list(q: Queryable, includeGone = false): Promise<WorkerRow[]> {
  const rows = await q.rows<Record<string, unknown>>(
    `SELECT worker_id, p_key, capacity, unused_capacity, memory_total, memory_free, state, host_name, pid, started_at, heartbeat_at,
            TIMESTAMPDIFF(MICROSECOND, heartbeat_at, NOW(6)) / 1000 AS age_ms
       FROM Worker ${includeGone ? '' : "WHERE state = 'alive'"} ORDER BY p_key, worker_id`);
  return rows.map((r) => ({
    workerId: Number(r.worker_id), pKey: Number(r.p_key), capacity: Number(r.capacity), unusedCapacity: Number(r.unused_capacity),
    memoryTotal: Number(r.memory_total), memoryFree: Number(r.memory_free), state: r.state as WorkerRow['state'],
    host: String(r.host_name), pid: Number(r.pid), startedAt: String(r.started_at), heartbeatAt: String(r.heartbeat_at),
    heartbeatAgeMs: Number(r.age_ms),
  }));
}

export interface Reaped {
  dead: number;
  requeued: number;
  failed: number;
}

/** Declares workers silent for `timeoutS` dead; their tasks go back to the queue or fail. */
export async function reap(q: Queryable, timeoutS: number): Promise<Reaped> {
  const rows = await q.call<{ dead: number; requeued: number; failed: number }>('CALL sched_reap(?)', [timeoutS]);
  const r = rows[0] ?? { dead: 0, requeued: 0, failed: 0 };
  return { dead: Number(r.dead), requeued: Number(r.requeued), failed: Number(r.failed) };
}
