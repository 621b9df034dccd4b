// `dbos sched`: the scheduler daemon. It takes queued tasks (those whose
// prerequisites have finished, those that found no room when submitted, those
// requeued from dead workers) and makes one scheduling decision per task by
// calling its policy's procedure; and it declares workers dead when they stop
// heartbeating, which puts their tasks back in the queue.
import type { Db } from '../schema/db.js';
import type { Logger } from '../schema/log.js';
import * as users from '../fs/sql/users.js';
import { decide, listPolicies, type Policy } from './policies.js';
import * as tasks from './tasks.js';
import * as workers from './workers.js';

export interface SchedulerOptions {
  /** A worker silent this long is dead (s). */
  heartbeatTimeoutS?: number;
  /** Decisions in flight at once. */
  concurrency?: number;
  /** Longest sleep when there is nothing to do (ms). */
  idleMs?: number;
}

export class Scheduler {
  private stopped = false;
  private wake: (() => void) | null = null;
  private policies = new Map<string, Policy>();
  private partitions = 1;
  decisions = 0;

  constructor(private readonly db: Db, private readonly log: Logger, private readonly opts: SchedulerOptions = {}) {}

  private async refresh(): Promise<void> {
    this.policies = new Map((await listPolicies(this.db)).map((p) => [p.name, p]));
    this.partitions = Math.max(1, await users.partitions(this.db));
  }

  /** Runs until stop(); errors (a lost database) are logged and retried. */
  async run(): Promise<void> {
    const timeout = this.opts.heartbeatTimeoutS ?? 5;
    let lastReap = 0;
    let lastRefresh = 0;
    let idle = 1;
    while (!this.stopped) {
      try {
        if (Date.now() - lastRefresh > 5000) {
          await this.refresh();
          lastRefresh = Date.now();
        }
        if (Date.now() - lastReap > 1000) {
          const r = await workers.reap(this.db, timeout);
          if (r.dead || r.requeued || r.failed) this.log.info(r, 'reaped workers that stopped heartbeating');
          lastReap = Date.now();
        }
        const placed = await this.scheduleBatch(256);
        idle = placed > 0 ? 1 : Math.min(idle * 2, this.opts.idleMs ?? 20);
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'scheduling pass failed; retrying');
        idle = this.opts.idleMs ?? 20;
      }
      if (idle > 1) await this.sleep(idle);
    }
  }

  /**
   * One pass over the queue; returns how many tasks went to a worker. A pass
   * is skipped while no worker has room, and ends after a run of misses: a
   * full cluster must not cost one failed decision per queued task.
   */
  async scheduleBatch(limit: number): Promise<number> {
    if (!(await workers.anyRoom(this.db))) return 0;
    const ready = await tasks.ready(this.db, limit);
    const lanes = this.opts.concurrency ?? 8;
    let placed = 0;
    let misses = 0;
    let next = 0;
    const lane = async () => {
      while (next < ready.length && !this.stopped && misses < lanes) {
        const t = ready[next++]!;
        const policy = this.policies.get(t.policy);
        if (!policy) {
          this.log.warn({ task: t.taskId, policy: t.policy }, 'task names a policy that no longer exists');
          continue;
        }
        const partition = policy.partitionArg === 'home' ? t.homePartition : Math.floor(Math.random() * this.partitions);
        if (await decide(this.db, policy, t.taskId, partition)) {
          placed++;
          misses = 0;
        } else {
          misses++;
        }
        this.decisions++;
      }
    };
    await Promise.all(Array.from({ length: lanes }, lane));
    return placed;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.wake = null; resolve(); }, ms);
      this.wake = () => { clearTimeout(timer); this.wake = null; resolve(); };
    });
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }
}
