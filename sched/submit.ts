// Submitting work: one task, or a whole graph of tasks, checked before
// anything is written and written in one transaction. A ready task is
// scheduled at once (the paper's "assignment at creation time"); the daemon
// takes whatever is left in the queue.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { Db } from '../schema/db.js';
import { pathInsideMount } from '../fs/fuse/mountpoint.js';
import { Identities } from '../fs/identity.js';
import { normalizePath } from '../fs/paths.js';
import * as namespace from '../fs/sql/namespace.js';
import * as users from '../fs/sql/users.js';
import { decide, listPolicies, type Policy } from './policies.js';
import * as tasks from './tasks.js';
import { TaskError } from './tasks.js';

export interface TaskSpec {
  command: string[];
  /** Working directory on the worker's host, typically on a dbos mount. */
  cwd: string;
  env: Record<string, string>;
  policy?: string;
  priority?: number;
  /** Memory footprint in bytes: the task runs only on a worker with this much free. */
  memory?: number;
  maxAttempts?: number;
  name?: string;
  /** Tasks (ids) this one waits for. */
  after?: number[];
  uid: number;
  gid: number;
}

export interface GraphTask extends Omit<TaskSpec, 'after' | 'uid' | 'gid' | 'name'> {
  name: string;
  /** Names of tasks in the same graph, or ids of existing tasks. */
  after?: (string | number)[];
}

export const DEFAULT_POLICY = 'fifo';

/** Where `command[0]` would be found, or an error sentence if nowhere. */
export function resolveCommand(command: string[], cwd: string, env: Record<string, string>): string {
  const name = command[0];
  if (!name) throw new TaskError('the command is empty; give it after --, as in: dbos submit -- echo hello.');
  const executable = (p: string) => {
    try {
      return statSync(p).isFile() && (accessSync(p, constants.X_OK), true);
    } catch {
      return false;
    }
  };
  if (name.includes('/')) {
    const p = isAbsolute(name) ? name : resolve(cwd, name);
    if (executable(p)) return p;
    throw new TaskError(`command not found: ${name} (no executable file at ${p}).`);
  }
  for (const dir of (env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    if (dir && executable(join(dir, name))) return join(dir, name);
  }
  throw new TaskError(`command not found: ${name} (not in PATH).`);
}

function checkSpec(s: Omit<TaskSpec, 'uid' | 'gid'>): void {
  if (s.memory !== undefined && (!Number.isSafeInteger(s.memory) || s.memory < 0)) throw new TaskError('memory must be a size of zero or more bytes.');
  if (s.maxAttempts !== undefined && (!Number.isInteger(s.maxAttempts) || s.maxAttempts < 1)) throw new TaskError('max attempts must be a whole number of at least 1.');
  if (s.priority !== undefined && !Number.isInteger(s.priority)) throw new TaskError('priority must be a whole number.');
  try {
    if (!statSync(s.cwd).isDirectory()) throw new Error();
  } catch {
    throw new TaskError(`working directory ${s.cwd} does not exist.`);
  }
  resolveCommand(s.command, s.cwd, s.env);
}

/**
 * The partition of the task's home directory from the filesystem tables: the
 * Directory row of its working directory when that is on a dbos mount, else
 * its owner's home partition.
 */
async function homePartition(db: Db, cwd: string, ownerHome: number): Promise<number> {
  const inside = pathInsideMount(cwd);
  if (inside === null) return ownerHome;
  const entry = await namespace.lookup(db, normalizePath(inside)).catch(() => null);
  return entry ? entry.pKey : ownerHome;
}

export class Submitter {
  private policies: Policy[] = [];

  private constructor(private readonly db: Db, private readonly ids: Identities, private readonly partitions: number) {}

  static async open(db: Db): Promise<Submitter> {
    const partitions = Math.max(1, await users.partitions(db));
    const ids = new Identities(db, partitions);
    await ids.reload();
    const s = new Submitter(db, ids, partitions);
    s.policies = await listPolicies(db);
    return s;
  }

  /** The policy called `name`, reading Sched_policy again if it is new to us. */
  private async policy(name: string): Promise<Policy> {
    let p = this.policies.find((x) => x.name === name);
    if (!p) {
      this.policies = await listPolicies(this.db);
      p = this.policies.find((x) => x.name === name);
    }
    if (!p) throw new TaskError(`unknown policy "${name}"; the policies are ${this.policies.map((x) => x.name).join(', ')}.`);
    return p;
  }

  private async prepare(s: Omit<TaskSpec, 'after'>): Promise<tasks.NewTask> {
    const policy = (await this.policy(s.policy ?? DEFAULT_POLICY)).name;
    checkSpec(s);
    const owner = await this.ids.user(s.uid);
    return {
      command: s.command, env: s.env, cwd: s.cwd, policy, priority: s.priority ?? 0, memory: s.memory ?? 0,
      homePartition: await homePartition(this.db, s.cwd, owner.homePartition), owner: owner.name,
      uid: s.uid, gid: s.gid, maxAttempts: s.maxAttempts ?? 3, name: s.name ?? null,
    };
  }

  /** Submits one task; returns its id. Nothing is written if any check fails. */
  async submit(s: TaskSpec): Promise<number> {
    const row = await this.prepare(s);
    const after = s.after ?? [];
    // Without prerequisites the INSERT stands alone: one round trip, then one CALL.
    const { taskId, state } = after.length === 0 ? await tasks.insert(this.db, row, []) : await this.db.tx((t) => tasks.insert(t, row, after));
    if (state === 'queued') await this.schedule(taskId, row.policy, row.homePartition);
    return taskId;
  }

  /**
   * Submits a graph of tasks that name each other in `after`. A cycle, a
   * duplicate or unknown name, or any invalid task refuses the whole graph.
   */
  async submitGraph(graph: GraphTask[], who: { uid: number; gid: number }): Promise<Map<string, number>> {
    const order = topologicalOrder(graph);
    const rows = new Map<string, tasks.NewTask>();
    for (const g of graph) rows.set(g.name, await this.prepare({ ...g, ...who }));
    const ids = await this.db.tx(async (t) => {
      const made = new Map<string, { taskId: number; state: tasks.TaskState }>();
      for (const g of order) {
        const after = (g.after ?? []).map((a) => (typeof a === 'number' ? a : made.get(a)!.taskId));
        made.set(g.name, await tasks.insert(t, rows.get(g.name)!, after));
      }
      return made;
    }, { timeoutMs: 120_000 });
    for (const [name, { taskId, state }] of ids) {
      const row = rows.get(name)!;
      if (state === 'queued') await this.schedule(taskId, row.policy, row.homePartition);
    }
    return new Map([...ids].map(([name, v]) => [name, v.taskId]));
  }

  private async schedule(taskId: number, policyName: string, home: number): Promise<void> {
    const policy = await this.policy(policyName);
    await decide(this.db, policy, taskId, policy.partitionArg === 'home' ? home : Math.floor(Math.random() * this.partitions));
  }
}

/** Orders a graph so that every task comes after what it waits for; refuses cycles. */
export function topologicalOrder(graph: GraphTask[]): GraphTask[] {
  const byName = new Map<string, GraphTask>();
  for (const g of graph) {
    if (!g.name) throw new TaskError('every task in a graph needs a name.');
    if (byName.has(g.name)) throw new TaskError(`the graph names "${g.name}" twice.`);
    byName.set(g.name, g);
  }
  for (const g of graph) {
    for (const a of g.after ?? []) {
      if (typeof a === 'string' && !byName.has(a)) throw new TaskError(`task "${g.name}" waits for "${a}", which is not in the graph.`);
    }
  }
  const order: GraphTask[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (g: GraphTask, path: string[]) => {
    if (state.get(g.name) === 'done') return;
    if (state.get(g.name) === 'visiting') throw new TaskError(`the graph has a cycle: ${[...path.slice(path.indexOf(g.name)), g.name].join(' -> ')}.`);
    state.set(g.name, 'visiting');
    for (const a of g.after ?? []) if (typeof a === 'string') visit(byName.get(a)!, [...path, g.name]);
    state.set(g.name, 'done');
    order.push(g);
  };
  for (const g of graph) visit(g, []);
  return order;
}
