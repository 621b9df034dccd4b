// Slurm on this machine, for comparison: a private single-node cluster (its
// own munged, slurmctld and slurmd, configured and started here, on ports
// that do not clash with a real one) running the same `true` jobs. Both
// configurations follow Slurm's high-throughput advice (no accounting, no job
// completion log, linuxproc tracking, short MinJobAge); they differ in how
// often the controller schedules:
// - "guide": SchedulerParameters=defer (the high-throughput guide's advice;
//   the default intervals: main scheduler every 60 s, backfill every 30 s);
// - "fast": a scheduling pass every second and no batching delay, the
//   fastest turnaround we could configure for tiny jobs.
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { percentile } from '../../cli/bench/report.js';

const run = promisify(execFile);

export interface SlurmResult {
  jobs: number;
  seconds: number;
  perSecond: number;
}

export interface SlurmLatency {
  jobs: number;
  medianMs: number;
  p99Ms: number;
}

export type SlurmVariant = 'guide' | 'fast';

export const SCHEDULER_PARAMETERS: Record<SlurmVariant, string> = {
  guide: 'defer',
  fast: 'sched_min_interval=0,sched_interval=1,bf_interval=1,batch_sched_delay=0,default_queue_depth=10000',
};

export class Slurm {
  private constructor(private readonly dir: string, private readonly env: NodeJS.ProcessEnv) {}

  /** Why Slurm cannot run here, or null. */
  static missing(): string | null {
    for (const bin of ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/sbin/munged', '/usr/bin/sbatch', '/usr/bin/squeue']) {
      if (!existsSync(bin)) return `${bin} is missing (run scripts/install --bench, or apt-get install slurm-wlm munge)`;
    }
    return null;
  }

  /** Writes the configuration, starts munged, slurmctld and slurmd, waits for the node. */
  static async start(dir: string, cpus: number, variant: SlurmVariant): Promise<Slurm> {
    rmSync(dir, { recursive: true, force: true });
    for (const d of [dir, join(dir, 'state'), join(dir, 'spool'), join(dir, 'munge')]) mkdirSync(d, { recursive: true, mode: 0o700 });
    const key = join(dir, 'munge', 'munge.key');
    writeFileSync(key, randomBytes(1024), { mode: 0o400 });
    chmodSync(key, 0o400);
    const host = hostname().split('.')[0]!;
    const socket = join(dir, 'munge', 'munge.socket');
    const conf = join(dir, 'slurm.conf');
    writeFileSync(conf, [
      'ClusterName=dbosbench', `SlurmctldHost=${host}`, 'SlurmUser=root', 'SlurmdUser=root',
      'AuthType=auth/munge', `AuthInfo=socket=${socket}`, 'CredType=cred/munge',
      'SlurmctldPort=26817', 'SlurmdPort=26818',
      `StateSaveLocation=${join(dir, 'state')}`, `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`, `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${join(dir, 'slurmctld.log')}`, `SlurmdLogFile=${join(dir, 'slurmd.log')}`,
      'SlurmctldDebug=error', 'SlurmdDebug=error',
      'ProctrackType=proctrack/linuxproc', 'TaskPlugin=task/none', 'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none', 'JobCompType=jobcomp/none', 'MpiDefault=none',
      'SchedulerType=sched/backfill', 'SelectType=select/cons_tres', 'SelectTypeParameters=CR_Core',
      `SchedulerParameters=${SCHEDULER_PARAMETERS[variant]}`, 'MinJobAge=2', 'MaxArraySize=100001', 'MaxJobCount=200000', 'ReturnToService=2', 'SlurmdParameters=config_overrides',
      `NodeName=${host} CPUs=${cpus} RealMemory=16000 State=UNKNOWN`,
      `PartitionName=bench Nodes=${host} Default=YES MaxTime=INFINITE State=UP`, '',
    ].join('\n'));
    const env = { ...process.env, SLURM_CONF: conf };
    await run('/usr/sbin/munged', ['--force', `--key-file=${key}`, `--socket=${socket}`, `--pid-file=${join(dir, 'munge', 'munged.pid')}`,
      `--log-file=${join(dir, 'munge', 'munged.log')}`, `--seed-file=${join(dir, 'munge', 'seed')}`]);
    await run('/usr/sbin/slurmctld', ['-f', conf], { env });
    await run('/usr/sbin/slurmd', ['-f', conf], { env });
    const s = new Slurm(dir, env);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { stdout } = await run('/usr/bin/sinfo', ['-h', '-o', '%t'], { env }).catch(() => ({ stdout: '' }));
      if (/^idle/m.test(stdout)) return s;
      if (Date.now() > deadline) {
        await s.stop();
        throw new Error(`the Slurm node did not become idle (sinfo: ${stdout.trim() || 'no answer'})`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  private async queueEmpty(timeoutS: number): Promise<void> {
    const deadline = Date.now() + timeoutS * 1000;
    for (;;) {
      const { stdout } = await run('/usr/bin/squeue', ['-h', '-o', '%i'], { env: this.env });
      if (stdout.trim() === '') return;
      if (Date.now() > deadline) throw new Error(`Slurm jobs still queued after ${timeoutS} s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** `count` jobs of `true`, each its own sbatch, one after another; until the queue is empty. */
  async sequentialJobs(count: number): Promise<SlurmResult> {
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      await run('/usr/bin/sbatch', ['--parsable', '-o', '/dev/null', '-e', '/dev/null', '--wrap=true'], { env: this.env });
    }
    await this.queueEmpty(3600);
    const seconds = (performance.now() - t0) / 1000;
    return { jobs: count, seconds, perSecond: count / seconds };
  }

  /** One job array of `count` tasks of `true`: Slurm's fastest way to submit many jobs. */
  async arrayJob(count: number): Promise<SlurmResult> {
    const t0 = performance.now();
    await run('/usr/bin/sbatch', ['--parsable', `--array=0-${count - 1}`, '-o', '/dev/null', '-e', '/dev/null', '--wrap=true'], { env: this.env });
    await this.queueEmpty(3600);
    const seconds = (performance.now() - t0) / 1000;
    return { jobs: count, seconds, perSecond: count / seconds };
  }

  /** Submit-to-finish of single jobs (sbatch --wait), one at a time. */
  async latency(count: number): Promise<SlurmLatency> {
    const ms: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await run('/usr/bin/sbatch', ['--wait', '-o', '/dev/null', '-e', '/dev/null', '--wrap=true'], { env: this.env });
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    return { jobs: count, medianMs: percentile(ms, 50), p99Ms: percentile(ms, 99) };
  }

  async stop(): Promise<void> {
    await run('/usr/bin/scancel', ['--full', '-u', 'root'], { env: this.env }).catch(() => undefined);
    for (const pidFile of ['slurmd.pid', 'slurmctld.pid', join('munge', 'munged.pid')]) {
      try {
        const pid = Number(readFileSync(join(this.dir, pidFile), 'utf8').trim());
        process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 100; i++) {
          try {
            process.kill(pid, 0);
            await new Promise((r) => setTimeout(r, 50));
          } catch {
            break;
          }
        }
      } catch {
        // not running
      }
    }
    try {
      execFileSync('rm', ['-rf', this.dir]);
    } catch {
      // left for inspection
    }
  }
}
