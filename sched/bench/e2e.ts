// End to end on this machine: the dbos sched daemon and dbos worker agents as
// real processes run `true` tasks; submit-to-finish is measured from the
// database's own timestamps.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Db } from '../../schema/db.js';
import { Submitter, type GraphTask } from '../submit.js';

export interface E2eResult {
  tasks: number;
  seconds: number;
  perSecond: number;
  medianMs: number;
  p99Ms: number;
}

export interface Daemons {
  stop(): Promise<void>;
}

/** Starts `dbos sched` and `workers` agents of `capacity` each, with the database URL in their environment. */
export async function startDaemons(cli: string, env: NodeJS.ProcessEnv, workers: number, capacity: number): Promise<Daemons> {
  const procs: ChildProcess[] = [];
  const start = (args: string[]) => {
    const p = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(p);
    return p;
  };
  start(['sched', '--log', '/dev/null']);
  const ready = Array.from({ length: workers }, () => new Promise<void>((resolve, reject) => {
    const p = start(['worker', '--capacity', String(capacity), '--log', '/dev/null']);
    let out = '';
    p.stdout!.on('data', (d) => { out += d; if (/^worker \d+/m.test(out)) resolve(); });
    p.once('exit', (code) => reject(new Error(`a worker exited (${code}): ${out}`)));
  }));
  await Promise.all(ready);
  return {
    async stop() {
      await Promise.all(procs.map((p) => new Promise<void>((res) => {
        if (p.exitCode !== null || p.signalCode !== null) return res();
        p.once('exit', () => res());
        p.kill('SIGTERM');
      })));
    },
  };
}

async function finishedStats(db: Db, firstId: number, lastId: number): Promise<Omit<E2eResult, 'tasks'>> {
  const rows = await db.rows<{ ms: number; s: string; e: string }>(
    `SELECT TIMESTAMPDIFF(MICROSECOND, submit_time, end_time) / 1000 AS ms FROM Task WHERE task_id BETWEEN ? AND ? ORDER BY ms`,
    [firstId, lastId]);
  const span = await db.rows<{ secs: number }>(
    'SELECT TIMESTAMPDIFF(MICROSECOND, MIN(submit_time), MAX(end_time)) / 1e6 AS secs FROM Task WHERE task_id BETWEEN ? AND ?',
    [firstId, lastId]);
  const ms = rows.map((r) => Number(r.ms));
  const seconds = Number(span[0]!.secs);
  const at = (p: number) => ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)]!;
  return { seconds, perSecond: ms.length / seconds, medianMs: at(50), p99Ms: at(99) };
}

async function waitAll(db: Db, firstId: number, lastId: number, timeoutS: number): Promise<void> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const r = await db.rows<{ n: number; bad: number }>(
      "SELECT SUM(state NOT IN ('succeeded','failed','cancelled')) AS n, SUM(state <> 'succeeded') AS bad FROM Task WHERE task_id BETWEEN ? AND ?",
      [firstId, lastId]);
    if (Number(r[0]!.n) === 0) {
      if (Number(r[0]!.bad) > 0) throw new Error(`${r[0]!.bad} benchmark tasks did not succeed`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`benchmark tasks still running after ${timeoutS} s`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

const TRUE = { command: ['true'], cwd: '/', env: { PATH: '/usr/bin:/bin' } };

/** `count` tasks running `true`, submitted one after another as fast as the client goes. */
export async function trueTasks(db: Db, count: number): Promise<E2eResult> {
  const s = await Submitter.open(db);
  const who = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  let first = 0;
  let last = 0;
  for (let i = 0; i < count; i++) {
    const id = await s.submit({ ...TRUE, ...who });
    if (i === 0) first = id;
    last = id;
  }
  await waitAll(db, first, last, 600);
  return { tasks: count, ...(await finishedStats(db, first, last)) };
}

/**
 * A graph of `count` tasks (the paper's serverless model): `layers` layers,
 * each task waiting for two of the layer before; or, with layers = 1, that many
 * independent tasks submitted at once (what a Slurm job array is).
 */
export async function graphTasks(db: Db, count: number, layers: number): Promise<E2eResult> {
  const s = await Submitter.open(db);
  const width = Math.ceil(count / layers);
  const graph: GraphTask[] = [];
  for (let i = 0; i < count; i++) {
    const layer = Math.floor(i / width);
    const j = i % width;
    const after = layer === 0 ? [] : [`t${(layer - 1) * width + j}`, `t${(layer - 1) * width + ((j + 1) % width)}`];
    graph.push({ name: `t${i}`, ...TRUE, after });
  }
  const ids = [...(await s.submitGraph(graph, { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 })).values()];
  const first = Math.min(...ids);
  const last = Math.max(...ids);
  await waitAll(db, first, last, 600);
  return { tasks: count, ...(await finishedStats(db, first, last)) };
}
