// Task lifecycles in the database: dependencies, failures that cascade,
// cancellation, dead workers, and submissions that are refused whole.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Submitter, topologicalOrder, type GraphTask } from '../../sched/submit.js';
import * as tasks from '../../sched/tasks.js';
import * as workers from '../../sched/workers.js';
import { freshDatabase, type TestDb } from '../helpers/db.js';

let t: TestDb;
let submitter: Submitter;
const me = { uid: 0, gid: 0 };
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

beforeAll(async () => {
  t = await freshDatabase({ partitions: 2 });
  submitter = await Submitter.open(t.db);
});
afterAll(async () => { await t?.drop(); });
beforeEach(async () => {
  for (const table of ['Task_dep', 'Task', 'Worker']) await t.db.run(`DELETE FROM ${table}`);
});

const state = async (id: number) => (await tasks.get(t.db, id))!.state;
const submit = (after: number[] = [], extra: Partial<Parameters<Submitter['submit']>[0]> = {}) =>
  submitter.submit({ command: ['true'], cwd: '/', env, after, ...me, ...extra });
const ok = { state: 'succeeded' as const, exitStatus: 0, signal: null, error: null };
const bad = { state: 'failed' as const, exitStatus: 1, signal: null, error: null };

/** Puts a queued task on a fresh worker and marks it running, as an agent would. */
async function run(id: number): Promise<number> {
  const w = await workers.register(t.db, { pKey: 0, capacity: 1, memory: 1 << 30, host: 'h', pid: 1 });
  await t.db.run("UPDATE Task SET worker_id = ?, state = 'assigned' WHERE task_id = ? AND state = 'queued'", [w, id]);
  await t.db.run('UPDATE Worker SET unused_capacity = 0 WHERE worker_id = ?', [w]);
  expect(await tasks.markRunning(t.db, id, w, 42, '/o', '/e')).toBe(true);
  return w;
}

describe('dependencies', () => {
  it('a task waits until everything before it has succeeded', async () => {
    const a = await submit();
    const b = await submit([a]);
    const c = await submit([a, b]);
    expect([await state(a), await state(b), await state(c)]).toEqual(['queued', 'waiting', 'waiting']);
    const wa = await run(a);
    await tasks.finish(t.db, a, wa, ok);
    // b became ready, and the slot a freed went to it in the same transaction (work-conserving).
    expect([await state(b), (await tasks.get(t.db, b))!.workerId, await state(c)]).toEqual(['assigned', wa, 'waiting']);
    await tasks.markRunning(t.db, b, wa, 43, '/o', '/e');
    await tasks.finish(t.db, b, wa, ok);
    expect(await state(c)).toBe('assigned');
  });

  it('a failure cancels everything downstream, transitively, and later submissions too', async () => {
    const x = await submit();
    const y = await submit([x]);
    const z = await submit([y]);
    const other = await submit();
    const wx = await run(x);
    await tasks.finish(t.db, x, wx, bad);
    // Downstream of x is cancelled; the freed slot goes to the other queued task.
    expect([await state(x), await state(y), await state(z), await state(other)]).toEqual(['failed', 'cancelled', 'cancelled', 'assigned']);
    expect((await tasks.get(t.db, other))!.workerId).toBe(wx);
    expect((await tasks.get(t.db, z))!.error).toBe(`prerequisite task ${y} cancelled`);
    const late = await submit([x]);
    expect(await state(late)).toBe('cancelled');
  });
});

describe('cancel', () => {
  it('cancels queued tasks at once, asks for running ones, refuses finished ones', async () => {
    const q = await submit();
    const dep = await submit([q]);
    expect(await t.db.tx((tx) => tasks.cancel(tx, q))).toBe('cancelled');
    expect(await state(dep)).toBe('cancelled');
    const r = await submit();
    const w = await run(r);
    expect(await t.db.tx((tx) => tasks.cancel(tx, r))).toBe('requested');
    expect(await tasks.cancelRequested(t.db, w)).toEqual([r]);
    await expect(t.db.tx((tx) => tasks.cancel(tx, q))).rejects.toThrow(/already finished \(cancelled\)/);
    await expect(t.db.tx((tx) => tasks.cancel(tx, 987654))).rejects.toThrow(/no task 987654/);
  });
});

describe('dead workers', () => {
  it('requeues their tasks, or fails them after the last attempt', async () => {
    const again = await submit([], { maxAttempts: 2 });
    const last = await submit([], { maxAttempts: 1 });
    const after = await submit([last]);
    const w1 = await run(again);
    const w2 = await run(last);
    await t.db.run('UPDATE Worker SET heartbeat_at = NOW(6) - INTERVAL 10 SECOND WHERE worker_id IN (?, ?)', [w1, w2]);
    expect(await workers.reap(t.db, 5)).toEqual({ dead: 2, requeued: 1, failed: 1 });
    const a = (await tasks.get(t.db, again))!;
    expect([a.state, a.workerId, a.attempts]).toEqual(['queued', null, 1]);
    expect(await state(last)).toBe('failed');
    expect((await tasks.get(t.db, last))!.error).toMatch(/died; no attempts left \(1 of 1\)/);
    expect(await state(after)).toBe('cancelled');
    // The dead worker reporting late changes nothing.
    expect((await tasks.finish(t.db, again, w1, ok)).recorded).toBe(false);
    expect(await workers.heartbeat(t.db, w1)).toBe(false);
  });
});

describe('submission', () => {
  it('refuses bad input with a sentence and writes nothing', async () => {
    const count = async () => Number((await t.db.rows('SELECT COUNT(*) AS n FROM Task'))[0]!.n);
    const before = await count();
    await expect(submit([], { policy: 'nope' })).rejects.toThrow(/unknown policy "nope"/);
    await expect(submit([], { command: ['definitely-not-a-command'] })).rejects.toThrow(/command not found: definitely-not-a-command/);
    await expect(submit([], { command: [] })).rejects.toThrow(/command is empty/);
    await expect(submit([], { cwd: '/no/such/dir' })).rejects.toThrow(/does not exist/);
    await expect(submit([], { memory: -5 })).rejects.toThrow(/memory/);
    await expect(submit([424242])).rejects.toThrow(/no task 424242/);
    const cyclic: GraphTask[] = [
      { name: 'a', command: ['true'], cwd: '/', env, after: ['c'] },
      { name: 'b', command: ['true'], cwd: '/', env, after: ['a'] },
      { name: 'c', command: ['true'], cwd: '/', env, after: ['b'] },
    ];
    await expect(submitter.submitGraph(cyclic, me)).rejects.toThrow(/cycle: a -> c -> b -> a|cycle/);
    await expect(submitter.submitGraph([{ ...cyclic[0]!, after: [] }, { ...cyclic[0]!, after: [] }], me)).rejects.toThrow(/names "a" twice/);
    await expect(submitter.submitGraph([{ ...cyclic[0]!, after: ['ghost'] }], me)).rejects.toThrow(/"ghost", which is not in the graph/);
    await expect(submitter.submitGraph([{ ...cyclic[0]!, after: [] }, { ...cyclic[1]!, command: ['nope-nope'] }], me)).rejects.toThrow(/command not found/);
    expect(await count()).toBe(before);
  });

  it('orders a graph so that prerequisites come first', () => {
    const g = (name: string, after: string[] = []): GraphTask => ({ name, command: ['true'], cwd: '/', env, after });
    const order = topologicalOrder([g('d', ['b', 'c']), g('b', ['a']), g('c', ['a']), g('a')]).map((x) => x.name);
    expect(order.indexOf('a')).toBeLessThan(order.indexOf('b'));
    expect(order.indexOf('b')).toBeLessThan(order.indexOf('d'));
    expect(order.indexOf('c')).toBeLessThan(order.indexOf('d'));
  });

  it('a graph is inserted whole, and ready tasks are scheduled on submission', async () => {
    const w = await workers.register(t.db, { pKey: 1, capacity: 10, memory: 1 << 30, host: 'h', pid: 1 });
    const ids = await submitter.submitGraph([
      { name: 'root', command: ['true'], cwd: '/', env },
      { name: 'leaf', command: ['true'], cwd: '/', env, after: ['root'] },
    ], me);
    expect((await tasks.get(t.db, ids.get('root')!))!.workerId).toBe(w);
    expect(await state(ids.get('leaf')!)).toBe('waiting');
    const deps = await t.db.rows('SELECT after_id FROM Task_dep WHERE task_id = ?', [ids.get('leaf')!]);
    expect(deps.map((d) => Number(d.after_id))).toEqual([ids.get('root')]);
  });
});
