// The scheduler's commands: submit, tasks, workers, wait, cancel, and the two
// daemons, sched and worker. Everything they show is also plain SQL on the
// Task and Worker tables (dbos sql).
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Db } from '../../schema/db.js';
import { fileLogger, stderrLogger } from '../../schema/log.js';
import { requireCurrentSchema } from '../../schema/migrations.js';
import { WorkerAgent } from '../../sched/agent.js';
import { Scheduler } from '../../sched/daemon.js';
import { Submitter, type GraphTask } from '../../sched/submit.js';
import * as tasks from '../../sched/tasks.js';
import * as workers from '../../sched/workers.js';
import { CliError } from '../errors.js';
import { formatTable } from '../table.js';
import { connect, resolveTarget } from '../target.js';
import { formatSize, parseSize, wholeNumber } from '../units.js';

/** The environment a task gets unless --export-all: enough to find programs and the user's home. */
const PASSED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];

async function withDb<T>(dbUrl: string | undefined, work: (db: Db) => Promise<T>): Promise<T> {
  const db = await connect(resolveTarget(dbUrl));
  try {
    await requireCurrentSchema(db);
    return await work(db);
  } finally {
    await db.close();
  }
}

function taskEnv(o: { env?: string[]; exportAll?: boolean }): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && (o.exportAll ? k !== 'DBOS_DB_URL' : PASSED_ENV.includes(k))) env[k] = v;
  }
  for (const kv of o.env ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new CliError(`--env takes KEY=VALUE (got "${kv}").`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

function taskIds(values: string[] | undefined): number[] {
  return (values ?? []).flatMap((v) => v.split(',')).filter(Boolean).map((v) => {
    if (!/^\d+$/.test(v)) throw new CliError(`task ids are whole numbers (got "${v}").`);
    return Number(v);
  });
}

/** The exit code `dbos wait` gives for a finished task. */
export function exitCodeOf(t: tasks.TaskRow): number {
  if (t.state === 'succeeded') return 0;
  if (t.termSignal) return 128 + (({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[t.termSignal] ?? 0);
  if (t.exitStatus !== null && t.exitStatus !== 0) return t.exitStatus;
  return 1;
}

/** One sentence on how a task that did not succeed ended. */
export function describeEnd(t: tasks.TaskRow): string {
  const how = t.termSignal ? `killed by ${t.termSignal}` : t.exitStatus !== null ? `exit status ${t.exitStatus}` : '';
  if (t.state === 'cancelled') return `task ${t.taskId} was cancelled${t.error && t.error !== 'cancelled' ? ` (${t.error})` : how ? ` (${how})` : ''}`;
  return `task ${t.taskId} failed: ${[t.error, how].filter(Boolean).join(', ') || 'no exit status'}`;
}

function age(ms: number | null): string {
  if (ms === null) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

async function waitFor(db: Db, id: number, timeoutS: number | undefined): Promise<tasks.TaskRow> {
  const deadline = timeoutS === undefined ? Infinity : Date.now() + timeoutS * 1000;
  for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
    const t = await tasks.get(db, id);
    if (!t) throw new CliError(`there is no task ${id}.`);
    if (tasks.FINISHED.includes(t.state)) return t;
    if (Date.now() > deadline) throw new CliError(`task ${id} is still ${t.state} after ${timeoutS} s.`);
    await new Promise((r) => setTimeout(r, pause));
  }
}

export function registerSchedCommands(program: Command): void {
  program.command('submit')
    .argument('[command...]', 'the program and its arguments, after --')
    .description('submit a task (prints its id), or a graph of tasks with --graph')
    .option('--policy <name>', 'scheduling policy: fifo, locality, least-loaded, least-loaded-global, or one you added', 'fifo')
    .option('--after <ids...>', 'task ids this task waits for')
    .option('--memory <size>', 'memory footprint, e.g. 512M: runs only where this much is free', '0')
    .option('--priority <n>', 'higher runs first', '0')
    .option('--cwd <dir>', 'working directory (default: the current one)')
    .option('--env <KEY=VALUE...>', 'environment variables to set')
    .option('--export-all', 'pass the whole environment (default: PATH, HOME, USER, LANG and a few more)')
    .option('--max-attempts <n>', 'runs allowed if workers die under it', '3')
    .option('--name <name>', 'a label shown by dbos tasks')
    .option('--graph <file>', 'JSON: [{"name", "command": [...], "after": [names or ids], "memory", "policy", "cwd"}]')
    .option('--wait', 'wait for the task and exit with its exit code')
    .option('--db <url>', 'the database instead of the private server')
    .action(async (command: string[], o: Record<string, string | string[] | boolean | undefined>) => {
      await withDb(o.db as string | undefined, async (db) => {
        const submitter = await Submitter.open(db);
        const env = taskEnv({ env: o.env as string[] | undefined, exportAll: o.exportAll as boolean });
        const cwd = resolve((o.cwd as string | undefined) ?? process.cwd());
        const who = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
        if (o.graph) {
          if (command.length > 0) throw new CliError('give either a command or --graph, not both.');
          let spec: unknown;
          try {
            spec = JSON.parse(readFileSync(o.graph as string, 'utf8'));
          } catch (e) {
            throw new CliError(`cannot read the graph ${o.graph}: ${(e as Error).message}.`);
          }
          const list = (Array.isArray(spec) ? spec : (spec as { tasks?: unknown }).tasks) as Record<string, unknown>[] | undefined;
          if (!Array.isArray(list)) throw new CliError('a graph is a JSON array of tasks (or {"tasks": [...]}).');
          const graph: GraphTask[] = list.map((g) => ({
            name: String(g.name ?? ''), command: Array.isArray(g.command) ? g.command.map(String) : [],
            after: Array.isArray(g.after) ? g.after as (string | number)[] : [], cwd: resolve(String(g.cwd ?? cwd)), env,
            policy: String(g.policy ?? o.policy), memory: g.memory === undefined ? 0 : parseSize(String(g.memory), 'memory'),
            priority: Number(g.priority ?? 0), maxAttempts: Number(g.maxAttempts ?? o.maxAttempts),
          }));
          const ids = await submitter.submitGraph(graph, who);
          for (const [name, id] of ids) console.log(`${id}\t${name}`);
          return;
        }
        const id = await submitter.submit({
          command, cwd, env, policy: o.policy as string, after: taskIds(o.after as string[] | undefined),
          memory: parseSize(o.memory as string, 'memory'), priority: wholeNumber('--priority', -1e9)(o.priority as string),
          maxAttempts: wholeNumber('--max-attempts', 1)(o.maxAttempts as string), name: o.name as string | undefined, ...who,
        });
        console.log(id);
        if (o.wait) {
          const t = await waitFor(db, id, undefined);
          process.exitCode = exitCodeOf(t);
        }
      });
    });

  program.command('tasks')
    .description('list tasks, like ps: state, worker, runtime, exit status')
    .option('--all', 'include every finished task (default: unfinished ones and the last 20 finished)')
    .option('--state <states...>', 'only these states: waiting queued assigned running succeeded failed cancelled')
    .option('--json', 'print JSON')
    .option('--db <url>', 'the database instead of the private server')
    .action(async (o: { all?: boolean; state?: string[]; json?: boolean; db?: string }) => {
      await withDb(o.db, async (db) => {
        for (const s of o.state ?? []) if (!['waiting', 'queued', 'assigned', 'running', ...tasks.FINISHED].includes(s)) throw new CliError(`unknown state "${s}".`);
        let rows: tasks.TaskRow[];
        if (o.state || o.all) rows = await tasks.list(db, { states: o.state as tasks.TaskState[] | undefined, limit: o.all ? 100_000 : 1000 });
        else {
          const open = await tasks.list(db, { states: ['waiting', 'queued', 'assigned', 'running'] });
          const done = await tasks.list(db, { states: tasks.FINISHED, limit: 20 });
          rows = [...done, ...open].sort((a, b) => a.taskId - b.taskId);
        }
        if (o.json) {
          console.log(JSON.stringify(rows, null, 2));
          return;
        }
        console.log(formatTable(['ID', 'STATE', 'WORKER', 'PART', 'RUNTIME', 'EXIT', 'COMMAND'], rows.map((t) => ({
          ID: t.taskId, STATE: t.state, WORKER: t.workerId ?? '', PART: t.pKey, RUNTIME: age(t.runtimeMs),
          EXIT: t.termSignal ?? (t.exitStatus ?? ''), COMMAND: (t.name ? `[${t.name}] ` : '') + t.command.join(' ').slice(0, 60),
        }))));
      });
    });

  program.command('workers')
    .description('list worker agents: partition, capacity in use, memory, heartbeat')
    .option('--all', 'include dead and stopped workers')
    .option('--json', 'print JSON')
    .option('--db <url>', 'the database instead of the private server')
    .action(async (o: { all?: boolean; json?: boolean; db?: string }) => {
      await withDb(o.db, async (db) => {
        const rows = await workers.list(db, o.all);
        if (o.json) {
          console.log(JSON.stringify(rows, null, 2));
          return;
        }
        console.log(formatTable(['ID', 'PART', 'USED', 'CAP', 'MEM FREE', 'MEM', 'STATE', 'HEARTBEAT', 'HOST:PID'], rows.map((w) => ({
          ID: w.workerId, PART: w.pKey, USED: w.capacity - w.unusedCapacity, CAP: w.capacity, 'MEM FREE': formatSize(w.memoryFree),
          MEM: formatSize(w.memoryTotal), STATE: w.state, HEARTBEAT: `${age(w.heartbeatAgeMs)} ago`, 'HOST:PID': `${w.host}:${w.pid}`,
        }))));
      });
    });

  program.command('wait')
    .argument('<id>', 'a task id')
    .description('wait for a task to finish and exit with its exit code')
    .option('--timeout <seconds>', 'give up after this long (exit 1)')
    .option('--output', 'print its stdout and stderr (kept on the DBOS filesystem)')
    .option('--db <url>', 'the database instead of the private server')
    .action(async (idText: string, o: { timeout?: string; output?: boolean; db?: string }) => {
      const [id] = taskIds([idText]);
      await withDb(o.db, async (db) => {
        const t = await waitFor(db, id!, o.timeout === undefined ? undefined : Number(o.timeout));
        if (o.output) {
          const { DbosFs } = await import('../../fs/dbosfs.js');
          const fs = await DbosFs.open(db, { checkPermissions: false });
          try {
            for (const [path, out] of [[t.stdoutPath, process.stdout], [t.stderrPath, process.stderr]] as const) {
              if (path) out.write(await fs.readFile(path).catch(() => Buffer.alloc(0)));
            }
          } finally {
            await fs.close();
          }
        }
        if (t.state !== 'succeeded') console.error(`dbos: ${describeEnd(t)}.`);
        process.exitCode = exitCodeOf(t);
      });
    });

  program.command('cancel')
    .argument('<ids...>', 'task ids')
    .description('cancel tasks: not started yet, at once; running, their worker stops them')
    .option('--db <url>', 'the database instead of the private server')
    .action(async (ids: string[], o: { db?: string }) => {
      await withDb(o.db, async (db) => {
        for (const id of taskIds(ids)) {
          const how = await db.tx((t) => tasks.cancel(t, id));
          console.log(how === 'cancelled' ? `cancelled ${id}` : `asked the worker running ${id} to stop it`);
        }
      });
    });

  program.command('sched')
    .description('run the scheduler daemon (foreground): schedules queued tasks, declares silent workers dead')
    .option('--heartbeat-timeout <seconds>', 'a worker silent this long is dead', '5')
    .option('--concurrency <n>', 'scheduling decisions in flight', '8')
    .option('--log <file>', 'log to this file instead of stderr')
    .option('--db <url>', 'the database instead of the private server')
    .action(async (o: { heartbeatTimeout: string; concurrency: string; log?: string; db?: string }) => {
      const timeout = Number(o.heartbeatTimeout);
      if (!(timeout > 0)) throw new CliError('--heartbeat-timeout must be a number of seconds above 0.');
      const log = o.log ? fileLogger('dbos-sched', o.log) : stderrLogger('dbos-sched', 'info');
      await withDb(o.db, async (db) => {
        const s = new Scheduler(db, log, { heartbeatTimeoutS: timeout, concurrency: wholeNumber('--concurrency', 1)(o.concurrency) });
        for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => s.stop());
        log.info('scheduler started');
        await s.run();
        log.info({ decisions: s.decisions }, 'scheduler stopped');
      });
    });

  program.command('worker')
    .description('run a worker agent (foreground) that runs assigned tasks as Linux processes')
    .requiredOption('--capacity <n>', 'tasks it runs at once')
    .option('--partition <p>', 'its partition (default: the one with the fewest workers)')
    .option('--memory <size>', 'memory it offers to tasks, e.g. 8G (default: all of this machine\'s)')
    .option('--log <file>', 'log to this file instead of stderr')
    .option('--db <url>', 'the database instead of the private server')
    .action(async (o: { capacity: string; partition?: string; memory?: string; log?: string; db?: string }) => {
      const capacity = wholeNumber('--capacity', 1)(o.capacity);
      const memory = o.memory === undefined ? totalmem() : parseSize(o.memory, '--memory');
      const log = o.log ? fileLogger('dbos-worker', o.log) : stderrLogger('dbos-worker', 'info');
      await withDb(o.db, async (db) => {
        let partition: number | undefined;
        if (o.partition !== undefined) {
          partition = wholeNumber('--partition')(o.partition);
          const n = Number((await db.rows<{ n: number }>('SELECT COUNT(*) AS n FROM Map'))[0]!.n);
          if (partition >= n) throw new CliError(`--partition must be below ${n}, the number of partitions.`);
        }
        const agent = await WorkerAgent.start(db, log, { capacity, memory, partition });
        let stopping: Promise<void> | null = null;
        for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { stopping ??= agent.stop(); });
        console.log(`worker ${agent.workerId} in partition ${agent.pKey}, capacity ${capacity}, memory ${formatSize(memory)}`);
        await agent.run();
        await stopping;
      });
    });
}
