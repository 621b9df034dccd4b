// The scheduler end to end: the dbos sched daemon and dbos worker agents as
// real processes, running real programs in a directory on a DBOS mount, with
// their output kept as files on the DBOS filesystem.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Submitter } from '../../sched/submit.js';
import { dbos, mountFresh, sh, startDbos, type Daemon, type Mounted } from '../helpers/cli.js';

let m: Mounted;
let env: Record<string, string>;
let sched: Daemon;
const agents: Daemon[] = [];

const q = async <T = Record<string, unknown>>(sql: string, params: (string | number)[] = []) => m.t.db.rows(sql, params) as Promise<T[]>;
const taskRow = async (id: number) => (await q('SELECT * FROM Task WHERE task_id = ?', [id]))[0]!;
const submit = (...args: string[]) => {
  const r = dbos(['submit', ...args], env);
  if (r.code !== 0) throw new Error(`submit failed: ${r.stderr}`);
  return Number(r.stdout.trim().split('\n').pop());
};
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const worker = async (...args: string[]) => {
  const a = await startDbos(['worker', ...args], env, /^worker \d+ in partition/m);
  agents.push(a);
  return { agent: a, id: Number(/^worker (\d+)/m.exec(a.output())![1]) };
};

beforeAll(async () => {
  m = await mountFresh();
  env = { DBOS_DB_URL: m.t.url };
  sched = await startDbos(['sched', '--heartbeat-timeout', '2'], env);
  await worker('--capacity', '4', '--memory', '100M');
  await worker('--capacity', '2', '--memory', '2G');
  await sh(`mkdir -p ${m.mountpoint}/project && chmod 777 ${m.mountpoint}/project`);
});
afterAll(async () => {
  for (const a of agents) await a.stop();
  await sched?.stop();
  await m?.umount();
});

describe('tasks run as real processes', () => {
  it('in their working directory on the mount, with their environment; output is a DBOS file', async () => {
    const cwd = join(m.mountpoint, 'project');
    writeFileSync(join(cwd, 'input.txt'), 'from the mount\n');
    const id = submit('--cwd', cwd, '--env', 'GREETING=hi there', '--', 'sh', '-c', 'cat input.txt; echo "$GREETING"; pwd; echo to-stderr >&2; exit 7');
    const waited = dbos(['wait', String(id), '--output'], env);
    expect(waited.code).toBe(7);
    expect(waited.stdout).toBe(`from the mount\nhi there\n${cwd}\n`);
    expect(waited.stderr).toContain('to-stderr');
    expect(waited.stderr).toContain(`dbos: task ${id} failed: exit status 7.`);
    const row = await taskRow(id);
    expect([row.state, row.exit_status, row.attempts]).toEqual(['failed', 7, 1]);
    await until('the output file on the mount', async () => {
      try {
        return readFileSync(join(m.mountpoint, 'tasks', `${id}.out`), 'utf8') === `from the mount\nhi there\n${cwd}\n`;
      } catch {
        return false;
      }
    }, 5000);
    expect(readFileSync(join(m.mountpoint, 'tasks', `${id}.err`), 'utf8')).toBe('to-stderr\n');
  });

  it('as the user who submitted them', async () => {
    // A submission by uid 65534 (the CLI records its caller's uid the same way).
    const submitter = await Submitter.open(m.t.db);
    const id = await submitter.submit({ command: ['id', '-u'], cwd: join(m.mountpoint, 'project'), env: { PATH: '/usr/bin:/bin' }, uid: 65534, gid: 65534 });
    expect(dbos(['wait', String(id)], env).code).toBe(0);
    expect((await taskRow(id)).uid).toBe(65534);
    expect(dbos(['wait', String(id), '--output'], env).stdout).toBe('65534\n');
    await until('the output file', async () => {
      try {
        return statSync(join(m.mountpoint, 'tasks', `${id}.out`)).uid === 65534;
      } catch {
        return false;
      }
    }, 5000);
  });

  it('only where their memory footprint fits', async () => {
    const big = submit('--memory', '1G', '--', 'true');
    expect(dbos(['wait', String(big)], env).code).toBe(0);
    const row = await taskRow(big);
    const w = (await q('SELECT memory_total FROM Worker WHERE worker_id = ?', [Number(row.worker_id)]))[0]!;
    expect(Number(w.memory_total)).toBe(2 * 2 ** 30);
    const huge = submit('--memory', '10G', '--', 'true');
    await new Promise((r) => setTimeout(r, 500));
    expect((await taskRow(huge)).state).toBe('queued');
    expect(dbos(['cancel', String(huge)], env).stdout).toBe(`cancelled ${huge}\n`);
  });
});

describe('graphs', () => {
  it('a graph of many short tasks runs in dependency order', async () => {
    const graph = [];
    for (let layer = 0; layer < 5; layer++) {
      for (let i = 0; i < 10; i++) {
        graph.push({
          name: `L${layer}-${i}`, command: ['sh', '-c', `echo ${layer}-${i}`],
          after: layer === 0 ? [] : [`L${layer - 1}-${i}`, `L${layer - 1}-${(i + 1) % 10}`],
        });
      }
    }
    const file = join(m.mountpoint, 'project', 'graph.json');
    writeFileSync(file, JSON.stringify(graph));
    const r = dbos(['submit', '--graph', file], env);
    expect(r.code, r.stderr).toBe(0);
    const ids = r.stdout.trim().split('\n').map((l) => Number(l.split('\t')[0]));
    expect(ids).toHaveLength(50);
    const last = Math.max(...ids);
    await until('the graph to finish', async () => (await q("SELECT COUNT(*) AS n FROM Task WHERE task_id BETWEEN ? AND ? AND state = 'succeeded'", [Math.min(...ids), last]))[0]!.n === 50, 60_000);
    const violations = await q(`SELECT d.task_id, d.after_id FROM Task_dep d JOIN Task t ON t.task_id = d.task_id JOIN Task a ON a.task_id = d.after_id
                                 WHERE d.task_id BETWEEN ? AND ? AND t.start_time < a.end_time`, [Math.min(...ids), last]);
    expect(violations).toEqual([]);
  });
});

describe('failures', () => {
  it('a worker killed with SIGKILL mid-task: its task runs again elsewhere, or fails after its last attempt', async () => {
    const victim = await worker('--capacity', '50');
    const retried = submit('--policy', 'least-loaded-global', '--max-attempts', '2', '--', 'sh', '-c', 'sleep 3; echo done');
    const doomed = submit('--policy', 'least-loaded-global', '--max-attempts', '1', '--', 'sleep', '60');
    await until('both to run on the victim', async () => (await q("SELECT COUNT(*) AS n FROM Task WHERE task_id IN (?, ?) AND state = 'running' AND worker_id = ?", [retried, doomed, victim.id]))[0]!.n === 2);
    await victim.agent.stop('SIGKILL');
    await until('the reaper', async () => (await q('SELECT state FROM Worker WHERE worker_id = ?', [victim.id]))[0]!.state === 'dead', 15_000);
    expect(dbos(['wait', String(retried)], env).code).toBe(0);
    const again = await taskRow(retried);
    expect(again.attempts).toBe(2);
    expect(again.worker_id).not.toBe(victim.id);
    const failed = await taskRow(doomed);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/died; no attempts left/);
    expect(dbos(['wait', String(doomed)], env).code).toBe(1);
  });

  it('cancel stops a running task', async () => {
    const id = submit('--', 'sleep', '60');
    await until('it to run', async () => (await taskRow(id)).state === 'running');
    expect(dbos(['cancel', String(id)], env).stdout).toMatch(/asked the worker/);
    const r = dbos(['wait', String(id)], env);
    expect(r.code).toBe(143);
    expect(r.stderr).toContain(`task ${id} was cancelled (killed by SIGTERM)`);
  });

  it('bad input is refused with one sentence and nothing written', async () => {
    const before = Number((await q('SELECT COUNT(*) AS n FROM Task'))[0]!.n);
    const cycle = join(m.mountpoint, 'project', 'cycle.json');
    writeFileSync(cycle, JSON.stringify([{ name: 'x', command: ['true'], after: ['y'] }, { name: 'y', command: ['true'], after: ['x'] }]));
    const cases: [string[], RegExp][] = [
      [['submit', '--policy', 'random', '--', 'true'], /unknown policy "random"; the policies are fifo, least-loaded, least-loaded-global, locality\./],
      [['submit', '--graph', cycle], /the graph has a cycle: (x -> y -> x|y -> x -> y)\./],
      [['submit', '--', 'no-such-program-anywhere'], /command not found: no-such-program-anywhere/],
      [['submit', '--after', '99999999', '--', 'true'], /no task 99999999 to wait for/],
      [['submit', '--memory', 'lots', '--', 'true'], /memory must be a size/],
      [['worker', '--capacity', '-2'], /--capacity must be a whole number of at least 1/],
      [['worker', '--capacity', '1', '--partition', '99'], /--partition must be below 8/],
      [['wait', '99999999'], /there is no task 99999999/],
      [['cancel', 'abc'], /task ids are whole numbers/],
    ];
    for (const [args, pattern] of cases) {
      const r = dbos(args, env);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
    expect(Number((await q('SELECT COUNT(*) AS n FROM Task'))[0]!.n)).toBe(before);
  });
});

describe('listings', () => {
  it('dbos tasks, dbos workers and plain SQL show the same rows', async () => {
    const tasksOut = dbos(['tasks', '--all'], env);
    expect(tasksOut.stdout).toMatch(/^ID\s+STATE\s+WORKER\s+PART\s+RUNTIME\s+EXIT\s+COMMAND/);
    const json = JSON.parse(dbos(['tasks', '--all', '--json'], env).stdout) as { taskId: number }[];
    const n = Number((await q('SELECT COUNT(*) AS n FROM Task'))[0]!.n);
    expect(json).toHaveLength(n);
    const w = dbos(['workers'], env);
    expect(w.stdout).toMatch(/alive/);
    const alive = Number((await q("SELECT COUNT(*) AS n FROM Worker WHERE state = 'alive'"))[0]!.n);
    expect(JSON.parse(dbos(['workers', '--json'], env).stdout)).toHaveLength(alive);
    const s = dbos(['sql', "SELECT state, COUNT(*) AS n FROM Task GROUP BY state ORDER BY state", '--json'], env);
    expect(JSON.parse(s.stdout).reduce((a: number, r: { n: number }) => a + r.n, 0)).toBe(n);
  });

  it('a worker stopped with SIGTERM gives its running task back to the queue', async () => {
    const leaving = await worker('--capacity', '60');
    const id = submit('--policy', 'least-loaded-global', '--', 'sh', '-c', 'sleep 2; echo moved');
    await until('it to run on the leaving worker', async () => Number((await taskRow(id)).worker_id) === leaving.id && (await taskRow(id)).state === 'running');
    await leaving.agent.stop('SIGTERM');
    expect((await q('SELECT state FROM Worker WHERE worker_id = ?', [leaving.id]))[0]!.state).toBe('stopped');
    const r = dbos(['wait', String(id), '--output'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('moved\n');
    expect(Number((await taskRow(id)).worker_id)).not.toBe(leaving.id);
  });
});
