// SQL for the Task and Task_dep tables: submitting tasks and graphs, what a
// worker runs, outcomes, cancellation, and listings for `dbos tasks`.
import type { Param, Queryable } from '../schema/db.js';

export type TaskState = 'waiting' | 'queued' | 'assigned' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const FINISHED: TaskState[] = ['succeeded', 'failed', 'cancelled'];


export interface TaskRow {
  taskId: number;
  pKey: number;
  workerId: number | null;
  state: TaskState;
  policy: string;
  priority: number;
  memory: number;
  homePartition: number;
  owner: string;
  uid: number;
  gid: number;
  name: string | null;
  command: string[];
  env: Record<string, string>;
  cwd: string;
  stdoutPath: string | null;
  stderrPath: string | null;
  submitTime: string;
  startTime: string | null;
  endTime: string | null;
  runtimeMs: number | null;
  pid: number | null;
  exitStatus: number | null;
  termSignal: string | null;
  attempts: number;
  maxAttempts: number;
  cancelRequested: boolean;
  error: string | null;
}

/** What a submission gives; the database fills in the rest of a TaskRow. */
export type NewTask = Pick<TaskRow, 'command' | 'env' | 'cwd' | 'policy' | 'priority' | 'memory' | 'homePartition' | 'owner' | 'uid' | 'gid' | 'maxAttempts'>
  & { name?: string | null };

export class TaskError extends Error {}

const COLUMNS = `task_id, p_key, worker_id, state, policy, priority, memory, home_partition, owner, uid, gid, name, command, env, cwd,
  stdout_path, stderr_path, submit_time, start_time, end_time, pid, exit_status, term_signal, attempts, max_attempts,
  cancel_requested, error,
  TIMESTAMPDIFF(MICROSECOND, start_time, COALESCE(end_time, NOW(6))) / 1000 AS runtime_ms`;

const text = (v: unknown) => (v === null || v === undefined ? null : Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
const json = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

function toTask(r: Record<string, unknown>): TaskRow {
  return {
    taskId: Number(r.task_id), pKey: Number(r.p_key), workerId: r.worker_id === null ? null : Number(r.worker_id),
    state: r.state as TaskState, policy: String(r.policy), priority: Number(r.priority), memory: Number(r.memory),
    homePartition: Number(r.home_partition), owner: String(r.owner), uid: Number(r.uid), gid: Number(r.gid),
    name: text(r.name), command: json<string[]>(r.command), env: json<Record<string, string>>(r.env), cwd: text(r.cwd) ?? '/',
    stdoutPath: text(r.stdout_path), stderrPath: text(r.stderr_path), submitTime: String(r.submit_time),
    startTime: text(r.start_time), endTime: text(r.end_time), runtimeMs: r.runtime_ms === null ? null : Number(r.runtime_ms),
    pid: r.pid === null ? null : Number(r.pid), exitStatus: r.exit_status === null ? null : Number(r.exit_status),
    termSignal: text(r.term_signal), attempts: Number(r.attempts), maxAttempts: Number(r.max_attempts),
    cancelRequested: Boolean(Number(r.cancel_requested)), error: text(r.error),
  };
}

/**
 * Inserts one task and its edges (inside a transaction when it has
 * prerequisites: they are share-locked while it is decided). The task is
 * queued if everything it waits for has succeeded, waiting if something is
 * still to run, and cancelled at once if something it waits for failed.
 */
export async function insert(q: Queryable, task: NewTask, after: number[]): Promise<{ taskId: number; state: TaskState }> {
  let state: TaskState = 'queued';
  let error: string | null = null;
  if (after.length > 0) {
    const deps = await q.rows<{ task_id: number; state: TaskState }>(
      `SELECT task_id, state FROM Task WHERE task_id IN (${after.map(() => '?').join(', ')}) LOCK IN SHARE MODE`, after);
    const missing = after.filter((id) => !deps.some((d) => Number(d.task_id) === id));
    if (missing.length > 0) throw new TaskError(`no task ${missing.join(', ')} to wait for.`);
    const broken = deps.find((d) => d.state === 'failed' || d.state === 'cancelled');
    if (broken) {
      state = 'cancelled';
      error = `prerequisite task ${broken.task_id} ${broken.state}`;
    } else if (deps.some((d) => d.state !== 'succeeded')) {
      state = 'waiting';
    }
  }
  const taskId = await q.insert(
    `INSERT INTO Task (p_key, state, policy, priority, memory, home_partition, owner, uid, gid, name, command, env, cwd,
                       max_attempts, submit_time, end_time, error)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(6), IF(? = 'cancelled', NOW(6), NULL), ?)`,
    [task.homePartition, state, task.policy, task.priority, task.memory, task.homePartition, task.owner, task.uid, task.gid,
      task.name ?? null, JSON.stringify(task.command), JSON.stringify(task.env), task.cwd, task.maxAttempts, state, error]);
  if (after.length > 0) {
    const unique = [...new Set(after)];
    await q.run(`INSERT INTO Task_dep (task_id, after_id) VALUES ${unique.map(() => '(?, ?)').join(', ')}`,
      unique.flatMap((a) => [taskId, a]));
  }
  return { taskId, state };
}

export async function get(q: Queryable, taskId: number): Promise<TaskRow | null> {
  const rows = await q.rows(`SELECT ${COLUMNS} FROM Task WHERE task_id = ?`, [taskId]);
  return rows[0] ? toTask(rows[0]) : null;
}

export interface ListOptions {
  states?: TaskState[];
  limit?: number;
}

export async function list(q: Queryable, o: ListOptions = {}): Promise<TaskRow[]> {
  const params: Param[] = [];
  let where = '';
  if (o.states && o.states.length > 0) {
    where = `WHERE state IN (${o.states.map(() => '?').join(', ')})`;
    params.push(...o.states);
  }
  params.push(o.limit ?? 1000);
  const rows = await q.rows(`SELECT ${COLUMNS} FROM Task ${where} ORDER BY task_id DESC LIMIT ?`, params);
  return rows.map(toTask).reverse();
}

/** Tasks ready to be scheduled, most urgent first. */
export async function ready(q: Queryable, limit: number): Promise<{ taskId: number; policy: string; homePartition: number }[]> {
  const rows = await q.rows<{ task_id: number; policy: string; home_partition: number }>(
    "SELECT task_id, policy, home_partition FROM Task FORCE INDEX (queue) WHERE state = 'queued' ORDER BY priority DESC, task_id LIMIT ?", [limit]);
  return rows.map((r) => ({ taskId: Number(r.task_id), policy: r.policy, homePartition: Number(r.home_partition) }));
}

/** What a worker has been given and not started yet. */
export async function assignedTo(q: Queryable, workerId: number): Promise<TaskRow[]> {
  const rows = await q.rows(`SELECT ${COLUMNS} FROM Task WHERE worker_id = ? AND state = 'assigned' ORDER BY priority DESC, task_id`, [workerId]);
  return rows.map(toTask);
}

/** Claims an assigned task for running; false if it was taken back (cancelled, worker declared dead). */
export async function markRunning(q: Queryable, taskId: number, workerId: number, pid: number, stdoutPath: string, stderrPath: string): Promise<boolean> {
  return (await q.run(
    `UPDATE Task SET state = 'running', start_time = NOW(6), pid = ?, attempts = attempts + 1, stdout_path = ?, stderr_path = ?
      WHERE task_id = ? AND worker_id = ? AND state = 'assigned'`,
    [pid, stdoutPath, stderrPath, taskId, workerId])) === 1;
}

export interface Outcome {
  state: 'succeeded' | 'failed' | 'cancelled';
  exitStatus: number | null;
  signal: string | null;
  error: string | null;
}

/** Records the outcome, frees the worker's capacity and releases dependents (one CALL). */
export async function finish(q: Queryable, taskId: number, workerId: number, o: Outcome): Promise<{ recorded: boolean; dispatched: number | null }> {
  const rows = await q.call<{ recorded: number; dispatched: number | null }>('CALL task_finish(?, ?, ?, ?, ?, ?)',
    [taskId, workerId, o.state, o.exitStatus, o.signal, o.error ? o.error.slice(0, 1024) : null]);
  return { recorded: Number(rows[0]?.recorded) === 1, dispatched: rows[0]?.dispatched == null ? null : Number(rows[0].dispatched) };
}

/** Running tasks of this worker whose cancellation was requested. */
export async function cancelRequested(q: Queryable, workerId: number): Promise<number[]> {
  const rows = await q.rows<{ task_id: number }>(
    "SELECT task_id FROM Task WHERE worker_id = ? AND state IN ('assigned', 'running') AND cancel_requested", [workerId]);
  return rows.map((r) => Number(r.task_id));
}

/**
 * Cancels a task: one that has not started is cancelled at once (with what
 * waits for it); a running one is marked, and its worker kills it.
 */
export async function cancel(t: Queryable, taskId: number): Promise<'cancelled' | 'requested'> {
  const rows = await t.rows<{ state: TaskState }>('SELECT state FROM Task WHERE task_id = ? FOR UPDATE', [taskId]);
  const state = rows[0]?.state;
  if (!state) throw new TaskError(`there is no task ${taskId}.`);
  if (FINISHED.includes(state)) throw new TaskError(`task ${taskId} has already finished (${state}).`);
  if (state === 'waiting' || state === 'queued') {
    await t.run("UPDATE Task SET state = 'cancelled', end_time = NOW(6), error = 'cancelled' WHERE task_id = ?", [taskId]);
    await t.call('CALL sched_cancel_dependents()');
    return 'cancelled';
  }
  await t.run('UPDATE Task SET cancel_requested = TRUE WHERE task_id = ?', [taskId]);
  return 'requested';
}
