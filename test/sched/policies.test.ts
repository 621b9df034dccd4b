// The policies as stored procedures, on a real database: what each one
// chooses, and that no concurrency can overdraw capacity or assign a task twice.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Db } from '../../schema/db.js';
import { decide, findPolicy, listPolicies, type Policy } from '../../sched/policies.js';
import * as tasks from '../../sched/tasks.js';
import * as workers from '../../sched/workers.js';
import { freshDatabase, type TestDb } from '../helpers/db.js';

let t: TestDb;
let policies: Map<string, Policy>;

beforeAll(async () => {
  t = await freshDatabase({ partitions: 4 });
  policies = new Map((await listPolicies(t.db)).map((p) => [p.name, p]));
});
afterAll(async () => { await t?.drop(); });
beforeEach(async () => {
  for (const table of ['Task_dep', 'Task', 'Worker']) await t.db.run(`DELETE FROM ${table}`);
});

async function worker(pKey: number, capacity: number, memory = 1 << 30): Promise<number> {
  return workers.register(t.db, { pKey, capacity, memory, host: 'test', pid: 1 });
}

async function task(o: Partial<tasks.NewTask> = {}, after: number[] = []): Promise<number> {
  const row: tasks.NewTask = {
    command: ['true'], env: {}, cwd: '/', policy: 'fifo', priority: 0, memory: 0, homePartition: 0,
    owner: 'root', uid: 0, gid: 0, maxAttempts: 3, ...o,
  };
  return (await t.db.tx((q) => tasks.insert(q, row, after))).taskId;
}

const used = async () => (await t.db.rows<{ worker_id: number; used: number; n: number }>(
  `SELECT w.worker_id, w.capacity - w.unused_capacity AS used,
          (SELECT COUNT(*) FROM Task x WHERE x.worker_id = w.worker_id AND x.state IN ('assigned','running')) AS n
     FROM Worker w ORDER BY w.worker_id`)).map((r) => ({ id: Number(r.worker_id), used: Number(r.used), n: Number(r.n) }));

describe('the policies', () => {
  it('registers the paper\'s three policies (and the global least-loaded variant)', async () => {
    expect([...policies.keys()]).toEqual(['fifo', 'least-loaded', 'least-loaded-global', 'locality']);
    await expect(findPolicy(t.db, 'random')).rejects.toThrow(/unknown policy "random"; the policies are fifo/);
  });

  it('FIFO starts at the given partition and moves on until one has room', async () => {
    const w1 = await worker(1, 1);
    const w3 = await worker(3, 1);
    const a = await task();
    const b = await task();
    const c = await task();
    expect(await decide(t.db, policies.get('fifo')!, a, 1)).toEqual({ workerId: w1, pKey: 1 });
    expect(await decide(t.db, policies.get('fifo')!, b, 1)).toEqual({ workerId: w3, pKey: 3 });
    expect(await decide(t.db, policies.get('fifo')!, c, 1)).toBeNull();
    expect((await tasks.get(t.db, c))!.state).toBe('queued');
    expect(await decide(t.db, policies.get('fifo')!, a, 1)).toBeNull();  // already assigned: never twice
  });

  it('respects the memory footprint', async () => {
    const MiB = 2 ** 20;
    const GiB = 2 ** 30;
    await worker(0, 4, 100 * MiB);
    const big = await worker(2, 4, 4 * GiB);
    const small = await task({ memory: 50 * MiB });
    const large = await task({ memory: GiB });
    const huge = await task({ memory: 8 * GiB });
    expect((await decide(t.db, policies.get('fifo')!, large, 0))?.workerId).toBe(big);
    expect(await decide(t.db, policies.get('fifo')!, small, 0)).not.toBeNull();
    expect(await decide(t.db, policies.get('fifo')!, huge, 0)).toBeNull();
    const w = await t.db.rows<{ memory_free: number }>('SELECT memory_free FROM Worker WHERE worker_id = ?', [big]);
    expect(Number(w[0]!.memory_free)).toBe(3 * GiB);
  });

  it('least-loaded picks the worker with the most room, within the partition or anywhere', async () => {
    await worker(0, 2);
    const roomy = await worker(0, 9);
    const roomiest = await worker(3, 20);
    expect((await decide(t.db, policies.get('least-loaded')!, await task(), 0))?.workerId).toBe(roomy);
    expect((await decide(t.db, policies.get('least-loaded-global')!, await task(), 0))?.workerId).toBe(roomiest);
  });

  it('locality waits unassigned at the home partition, and gets the capacity a finishing task frees there', async () => {
    const home = await worker(2, 1);
    await worker(0, 10);
    const first = await task({ policy: 'locality', homePartition: 2 });
    const second = await task({ policy: 'locality', homePartition: 2 });
    expect(await decide(t.db, policies.get('locality')!, first, 2)).toEqual({ workerId: home, pKey: 2 });
    expect(await decide(t.db, policies.get('locality')!, second, 2)).toBeNull();
    const waiting = (await tasks.get(t.db, second))!;
    expect([waiting.state, waiting.workerId, waiting.pKey]).toEqual(['queued', null, 2]);
    await tasks.markRunning(t.db, first, home, 123, '/o', '/e');
    const done = await tasks.finish(t.db, first, home, { state: 'succeeded', exitStatus: 0, signal: null, error: null });
    expect(done).toEqual({ recorded: true, dispatched: second });
    expect((await tasks.get(t.db, second))!.workerId).toBe(home);
    expect(await used()).toEqual([{ id: home, used: 1, n: 1 }, { id: home + 1, used: 0, n: 0 }]);
  });
});

describe('a new policy, as README shows it', () => {
  it('is a procedure and a row in Sched_policy', async () => {
    const readme = readFileSync('README.md', 'utf8');
    const block = /\*\*Adding a policy\*\*[\s\S]*?```sql\n([\s\S]*?)```/.exec(readme)![1]!;
    const [procedure, registration] = block.split(/\nEND;\n/);
    await t.db.ddl(`${procedure}\nEND`);
    await t.db.ddl(registration!.trim().replace(/;$/, ''));
    const bestFit = await findPolicy(t.db, 'best-fit');
    await worker(0, 4, 8 * 2 ** 30);
    const snug = await worker(1, 4, 2 * 2 ** 30);
    await worker(2, 4, 1 * 2 ** 30);
    expect(await decide(t.db, bestFit, await task({ memory: 1.5 * 2 ** 30 }), 0)).toEqual({ workerId: snug, pKey: 1 });
    await t.db.ddl('DROP PROCEDURE sched_best_fit');
    await t.db.run("DELETE FROM Sched_policy WHERE name = 'best-fit'");
  });
});

describe('at any concurrency', () => {
  it('40 concurrent schedulers against few workers: capacity never negative, no task assigned twice', async () => {
    const ws = [await worker(0, 3), await worker(1, 3), await worker(1, 2), await worker(2, 5), await worker(3, 2)];
    const slots = 15;
    const ids: number[] = [];
    for (let i = 0; i < 120; i++) ids.push(await task({ policy: ['fifo', 'least-loaded', 'least-loaded-global', 'locality'][i % 4]!, homePartition: i % 4 }));
    // Every scheduler tries every task, in its own order, on its own connection.
    const conns = Array.from({ length: 40 }, () => new Db(t.target, { poolSize: 1 }));
    const decisions = await Promise.all(conns.map(async (db, s) => {
      const mine: number[] = [];
      const order = [...ids].sort(() => Math.random() - 0.5);
      for (const id of order.slice(0, 60 + s)) {
        const row = (await tasks.get(db, id))!;
        const p = policies.get(row.policy)!;
        const d = await decide(db, p, id, p.partitionArg === 'home' ? row.homePartition : s % 4);
        if (d) mine.push(id);
      }
      return mine;
    }));
    await Promise.all(conns.map((c) => c.close()));
    const assigned = decisions.flat();
    expect(new Set(assigned).size).toBe(assigned.length);           // nobody assigned a task twice
    expect(assigned.length).toBe(slots);                             // and every slot was used
    for (const w of await used()) expect(w.used).toBe(w.n);          // capacity accounts for exactly its tasks
    const free = await t.db.rows<{ m: number }>('SELECT MIN(unused_capacity) AS m FROM Worker');
    expect(Number(free[0]!.m)).toBe(0);
    expect(ws).toHaveLength(5);
  });

  it('finishing and scheduling at the same time keeps capacity exact', async () => {
    const ws = [await worker(0, 2), await worker(1, 2)];
    const ids: number[] = [];
    for (let i = 0; i < 60; i++) ids.push(await task());
    const pending = new Set(ids);
    const conns = Array.from({ length: 12 }, () => new Db(t.target, { poolSize: 1 }));
    let finished = 0;
    await Promise.all(conns.map(async (db, s) => {
      for (let round = 0; round < 400 && finished < ids.length; round++) {
        if (s % 3 === 0) {
          const running = await db.rows<{ task_id: number; worker_id: number }>("SELECT task_id, worker_id FROM Task WHERE state = 'assigned' LIMIT 1");
          const r = running[0];
          if (r && (await tasks.finish(db, Number(r.task_id), Number(r.worker_id), { state: 'succeeded', exitStatus: 0, signal: null, error: null })).recorded) finished++;
        } else {
          const next = [...pending][Math.floor(Math.random() * pending.size)];
          if (next !== undefined && await decide(db, policies.get('fifo')!, next, s % 4)) pending.delete(next);
        }
      }
    }));
    await Promise.all(conns.map((c) => c.close()));
    expect(finished).toBeGreaterThan(10);
    for (const w of await used()) expect(w.used).toBe(w.n);
    const states = await t.db.rows<{ state: string; n: number }>('SELECT state, COUNT(*) AS n FROM Task GROUP BY state');
    const succeeded = Number(states.find((x) => x.state === 'succeeded')?.n ?? 0);
    expect(succeeded).toBe(finished);
    expect(ws).toHaveLength(2);
  });

  it('the database refuses negative capacity even from a hand-written statement', async () => {
    const w = await worker(0, 1);
    await expect(t.db.run('UPDATE Worker SET unused_capacity = unused_capacity - 2 WHERE worker_id = ?', [w])).rejects.toThrow(/capacity_in_range/);
  });
});
