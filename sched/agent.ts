// `dbos worker`: a worker agent. It registers a Worker row, heartbeats, runs
// the tasks assigned to it as ordinary Linux processes (command line,
// environment, working directory; as the task's user when the agent is root),
// keeps their stdout and stderr as files on the DBOS filesystem (written
// through the shim, no mount needed), and reports each outcome with one CALL
// that also frees its capacity.
import { constants as fsc, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Db } from '../schema/db.js';
import type { Logger } from '../schema/log.js';
import { DbosFs } from '../fs/dbosfs.js';
import { FsError } from '../fs/errors.js';
import { ProcessLauncher } from './processes.js';
import * as tasks from './tasks.js';
import * as workers from './workers.js';

/** Where task output lives in the DBOS filesystem: /tasks/<id>.out and .err. */
export const OUTPUT_DIR = '/tasks';
export const outputPaths = (taskId: number) => ({ stdout: `${OUTPUT_DIR}/${taskId}.out`, stderr: `${OUTPUT_DIR}/${taskId}.err` });

export interface AgentOptions {
  capacity: number;
  memory: number;
  partition?: number;
  heartbeatMs?: number;
  /** Longest pause between looks for new assignments when idle (ms). */
  pollMs?: number;
  /** How long a cancelled or abandoned task gets between SIGTERM and SIGKILL (ms). */
  killGraceMs?: number;
}

interface Running {
  taskId: number;
  /** The launcher's handle on the process. */
  launchId: number;
  exited: Promise<void>;
  done: boolean;
  cancelled: boolean;
  /** Given up by this worker (stopping, or declared dead): its task runs elsewhere, so no outcome is reported. */
  abandoned: boolean;
}

export class WorkerAgent {
  workerId = 0;
  pKey = 0;
  private readonly running = new Map<number, Running>();
  private readonly launching = new Set<number>();
  private stopped = false;
  private wake: (() => void) | null = null;
  private readonly asRoot = process.getuid?.() === 0;
  started = 0;

  private readonly launcher = new ProcessLauncher();

  private constructor(private readonly db: Db, private readonly fs: DbosFs, private readonly log: Logger, private readonly opts: AgentOptions) {}

  static async start(db: Db, log: Logger, opts: AgentOptions): Promise<WorkerAgent> {
    if (!Number.isInteger(opts.capacity) || opts.capacity < 1) throw new Error('capacity must be a whole number of at least 1.');
    if (!Number.isSafeInteger(opts.memory) || opts.memory < 0) throw new Error('memory must be a size of zero or more bytes.');
    const fs = await DbosFs.open(db, { logger: log, maxDirtyAgeMs: 1000 });
    try {
      await fs.mkdir(OUTPUT_DIR, 0o1777);
    } catch (e) {
      if (!(e instanceof FsError && e.code === 'EEXIST')) throw e;
    }
    const agent = new WorkerAgent(db, fs, log, opts);
    await agent.register();
    return agent;
  }

  private async register(): Promise<void> {
    this.pKey = this.opts.partition ?? await workers.emptiestPartition(this.db);
    this.workerId = await workers.register(this.db, {
      pKey: this.pKey, capacity: this.opts.capacity, memory: this.opts.memory, host: hostname(), pid: process.pid,
    });
    this.log.info({ worker: this.workerId, partition: this.pKey, capacity: this.opts.capacity, memory: this.opts.memory }, 'registered');
  }

  /** Runs until stop(). */
  async run(): Promise<void> {
    const beat = setInterval(() => void this.heartbeat(), this.opts.heartbeatMs ?? 1000);
    let idle = 1;
    try {
      while (!this.stopped) {
        let started = 0;
        try {
          started = await this.startAssigned();
          await this.killCancelled();
        } catch (e) {
          this.log.warn({ err: (e as Error).message }, 'could not read assignments; retrying');
        }
        idle = started > 0 ? 1 : Math.min(idle * 2, this.opts.pollMs ?? 10);
        await this.sleep(idle);
      }
    } finally {
      clearInterval(beat);
    }
  }

  private async heartbeat(): Promise<void> {
    try {
      if (await workers.heartbeat(this.db, this.workerId)) return;
      // Declared dead while we were away: those tasks run elsewhere now.
      this.log.warn({ worker: this.workerId }, 'declared dead by the scheduler; abandoning tasks and registering again');
      for (const r of this.running.values()) {
        r.abandoned = true;
        this.terminate(r);
      }
      await this.register();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'heartbeat failed');
    }
  }

  private async startAssigned(): Promise<number> {
    const assigned = (await tasks.assignedTo(this.db, this.workerId)).filter((t) => !this.running.has(t.taskId) && !this.launching.has(t.taskId));
    for (const t of assigned) this.launching.add(t.taskId);
    const started = await Promise.all(assigned.map((t) => this.launch(t).finally(() => this.launching.delete(t.taskId))));
    return started.filter(Boolean).length;
  }

  /** Starts one task's process; false if the task was taken back before it started. */
  private async launch(t: tasks.TaskRow): Promise<boolean> {
    const paths = outputPaths(t.taskId);
    /** A task that cannot start is claimed and failed at once. */
    const fail = async (error: string, exitStatus: number | null) => {
      if (await tasks.markRunning(this.db, t.taskId, this.workerId, 0, paths.stdout, paths.stderr)) {
        await this.report(t.taskId, { state: 'failed', exitStatus, signal: null, error });
      }
      return true;
    };
    const me = process.getuid?.() ?? 0;
    if (!this.asRoot && t.uid !== me) return fail(`worker ${this.workerId} runs as uid ${me} and cannot run tasks of uid ${t.uid}`, null);
    if (!existsSync(t.cwd)) return fail(`working directory ${t.cwd} does not exist on ${hostname()}`, null);

    const who = { uid: t.uid, gid: t.gid };
    const [outFd, errFd] = await Promise.all([this.outputFile(paths.stdout, who), this.outputFile(paths.stderr, who)]);
    const closeOutput = async () => {
      await this.fs.release(outFd).catch(() => undefined);
      await this.fs.release(errFd).catch(() => undefined);
    };
    const out = this.writer(outFd);
    const err = this.writer(errFd);
    let finished!: () => void;
    const run: Running = { taskId: t.taskId, launchId: 0, exited: new Promise((res) => { finished = res; }), done: false, cancelled: false, abandoned: false };
    let claim: Promise<boolean> = Promise.resolve(false);
    const launch = this.launcher.start({
      file: t.command[0]!, args: t.command.slice(1), cwd: t.cwd, env: t.env,
      ...(this.asRoot && t.uid !== 0 ? { uid: t.uid, gid: t.gid } : {}),
    }, {
      onOutput: (stream, chunk) => (stream === 1 ? out : err).write(chunk),
      onExit: (code, signal) => {
        void (async () => {
          try {
            await out.done();
            await err.done();
          } catch (e) {
            this.log.warn({ task: t.taskId, err: (e as Error).message }, 'task output not fully saved');
          }
          await closeOutput();
          run.done = true;
          this.running.delete(t.taskId);
          finished();
          // The claim must be recorded before the outcome, even for a process that exits at once.
          if (!await claim || run.abandoned) return;
          await this.report(t.taskId, run.cancelled
            ? { state: 'cancelled', exitStatus: code, signal, error: 'cancelled' }
            : { state: code === 0 ? 'succeeded' : 'failed', exitStatus: code, signal, error: null });
        })();
      },
    });
    run.launchId = launch.id;
    const started = await launch.started;
    if ('error' in started) {
      await closeOutput();
      const e = started.error;
      return fail(e.code === 'ENOENT' ? `command not found: ${t.command[0]}` : `cannot start ${t.command[0]}: ${e.message}`, 127);
    }
    this.running.set(t.taskId, run);
    this.started++;
    claim = tasks.markRunning(this.db, t.taskId, this.workerId, started.pid, paths.stdout, paths.stderr).catch(() => false);
    if (!await claim) {
      // Cancelled or taken back between the look and the claim.
      run.abandoned = true;
      this.terminate(run);
      return false;
    }
    return true;
  }

  /**
   * Creates an output file: names are unique per task, so an exclusive create
   * (one INSERT) is the usual case; a task run again truncates its old output.
   */
  private async outputFile(path: string, who: { uid: number; gid: number }): Promise<number> {
    try {
      return await this.fs.create(path, 0o644, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, who);
    } catch (e) {
      if (!(e instanceof FsError && e.code === 'EEXIST')) throw e;
      return this.fs.open(path, fsc.O_WRONLY | fsc.O_TRUNC, 0o644, who);
    }
  }

  /** Appends a child's output to a DBOS file, in order; done() waits for the last write. */
  private writer(fd: number): { write(chunk: Buffer): void; done(): Promise<void> } {
    let offset = 0;
    let chain = Promise.resolve();
    return {
      write: (chunk) => {
        const at = offset;
        offset += chunk.length;
        chain = chain.then(() => this.fs.write(fd, chunk, at).then(() => undefined));
      },
      done: () => chain,
    };
  }

  /** Reports an outcome; retried while the database is away, so no result is lost. */
  private async report(taskId: number, outcome: tasks.Outcome): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await tasks.finish(this.db, taskId, this.workerId, outcome);
        this.wake?.();
        return;
      } catch (e) {
        if (attempt % 10 === 0) this.log.warn({ task: taskId, err: (e as Error).message }, 'could not record the outcome yet');
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * (attempt + 1))));
        if (this.stopped && attempt > 50) return;
      }
    }
  }

  private async killCancelled(): Promise<void> {
    if (this.running.size === 0) return;
    for (const id of await tasks.cancelRequested(this.db, this.workerId)) {
      const r = this.running.get(id);
      if (r && !r.cancelled) {
        r.cancelled = true;
        this.terminate(r);
      }
    }
  }

  private terminate(r: Running): void {
    this.launcher.kill(r.launchId, 'SIGTERM');
    setTimeout(() => { if (!r.done) this.launcher.kill(r.launchId, 'SIGKILL'); }, this.opts.killGraceMs ?? 5000).unref();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.wake = null; resolve(); }, ms);
      this.wake = () => { clearTimeout(timer); this.wake = null; resolve(); };
    });
  }

  /**
   * Leaves on purpose: takes no more tasks, stops the running ones, and puts
   * everything it held back in the queue for other workers.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await workers.markStopped(this.db, this.workerId);
    await workers.reap(this.db, 1e9);
    const children = [...this.running.values()];
    for (const r of children) {
      r.abandoned = true;
      this.terminate(r);
    }
    await Promise.all(children.map((r) => r.exited));
    this.launcher.close();
    await this.fs.close();
  }
}
