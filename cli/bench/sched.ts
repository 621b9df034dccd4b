// dbos bench sched: decisions per second by policy (the paper's Figure 5),
// the database's single-row ceiling, and end to end against Slurm.
import { join } from 'node:path';
import type { Command } from 'commander';
import { Db } from '../../schema/db.js';
import { migrate } from '../../schema/migrations.js';
import { targetUrl } from '../../schema/url.js';
import { graphTasks, startDaemons, trueTasks, type E2eResult } from '../../sched/bench/e2e.js';
import { SCHEDULER_PARAMETERS, Slurm, type SlurmLatency, type SlurmResult, type SlurmVariant } from '../../sched/bench/slurm.js';
import { singleRowCeiling, syntheticScheduling, type PolicyCurve } from '../../sched/bench/synthetic.js';
import { barChart, lineChart } from './chart.js';
import { describeMachine, machineMarkdown, mdTable, openReport } from './report.js';
import { CLI_ENTRY } from '../entry.js';
import { dropScratchDatabase, scratchDatabase } from './scratch.js';
import { connect, resolveTarget } from '../target.js';
import { listOf, positiveSeconds, wholeNumber } from '../units.js';

export function registerSchedBench(bench: Command): void {
  bench.command('sched')
    .description('the scheduler: decisions per second by policy (the paper\'s Figure 5), the database ceiling, end to end against Slurm')
    .option('--quick', 'a short run (fewer steps, shorter, fewer tasks)')
    .option('--steps <rates>', 'offered decisions per second, comma-separated (e.g. 500,1000,2000)', listOf('--steps', wholeNumber('--steps', 1)))
    .option('--step-seconds <s>', 'how long each offered rate runs', positiveSeconds('--step-seconds'))
    .option('--tasks <n>', 'true tasks end to end (each way), and the size of the task graph', wholeNumber('--tasks', 10))
    .option('--out <dir>', 'results folder (default results/sched-<time>)')
    .option('--no-slurm', 'skip the Slurm comparison')
    .option('--db <url>', 'the server to use instead of the private one (needs CREATE DATABASE)')
    .action(async (o: { quick?: boolean; steps?: number[]; stepSeconds?: number; tasks?: number; out?: string; slurm: boolean; db?: string }) => {
      const r = resolveTarget(o.db);
      const admin = await connect(r);
      const scale = o.quick
        ? { schedulers: 40, workers: 2000, partitions: 8, steps: [500, 1000, 2000, 4000], stepSeconds: 1.5, ceilingSeconds: 2, trueTasks: 300, graph: 1000, daemonWorkers: 2, capacity: 4, slurmGuideJobs: 60, slurmLatencyJobs: 5 }
        : { schedulers: 40, workers: 4000, partitions: 8, steps: [250, 500, 1000, 2000, 3000, 4000, 6000, 9400, 12000, 18800], stepSeconds: 4, ceilingSeconds: 5, trueTasks: 2000, graph: 1000, daemonWorkers: 2, capacity: 4, slurmGuideJobs: 300, slurmLatencyJobs: 10 };
      const p = {
        ...scale,
        ...(o.steps ? { steps: o.steps } : {}),
        ...(o.stepSeconds ? { stepSeconds: o.stepSeconds, ceilingSeconds: Math.min(scale.ceilingSeconds, o.stepSeconds) } : {}),
        ...(o.tasks ? { trueTasks: o.tasks, graph: o.tasks } : {}),
      };
      const report = openReport('sched', o.out);
      const log = (m: string) => console.log(m);
      try {
        const machine = await describeMachine(admin);
        const target = await scratchDatabase(admin, r.target, 'dbos_bench_sched');
        const db = new Db(target, { opTimeoutMs: 60_000 });
        await migrate(db, { partitions: p.partitions });

        log('ceiling: single-row transactions');
        const ceiling = await singleRowCeiling(target, p.schedulers, p.ceilingSeconds);
        log(`  ${ceiling.perSecond.toFixed(0)} transactions/s`);
        const curves = await syntheticScheduling(target, { ...p, log });

        log('end to end: dbos sched + dbos worker running true');
        await db.run('DELETE FROM Task');
        await db.run('DELETE FROM Worker');
        const env = { ...process.env, DBOS_DB_URL: targetUrl(target) };
        const daemons = await startDaemons(CLI_ENTRY, env, p.daemonWorkers, p.capacity);
        let e2e: { sequential: E2eResult; independent: E2eResult; graph: E2eResult };
        try {
          const sequential = await trueTasks(db, p.trueTasks);
          log(`  ${p.trueTasks} tasks submitted one by one: ${sequential.perSecond.toFixed(0)}/s, median ${sequential.medianMs.toFixed(1)} ms`);
          const independent = await graphTasks(db, p.trueTasks, 1);
          log(`  ${p.trueTasks} tasks submitted at once: ${independent.perSecond.toFixed(0)}/s`);
          const graph = await graphTasks(db, p.graph, 10);
          log(`  ${p.graph}-task graph (10 layers): ${graph.seconds.toFixed(2)} s, ${graph.perSecond.toFixed(0)}/s`);
          e2e = { sequential, independent, graph };
        } finally {
          await daemons.stop();
        }

        const slurm: SlurmOutcome = {};
        const missing = o.slurm ? Slurm.missing() : 'skipped (--no-slurm)';
        for (const variant of ['fast', 'guide'] as SlurmVariant[]) {
          if (missing) {
            slurm[variant] = { unavailable: missing };
            continue;
          }
          // Slurm's guide configuration runs a few jobs a second: fewer of them give the same rate.
          const jobs = variant === 'guide' ? Math.min(p.trueTasks, p.slurmGuideJobs) : p.trueTasks;
          log(`Slurm (${variant}: SchedulerParameters=${SCHEDULER_PARAMETERS[variant]}): the same true jobs`);
          try {
            const s = await Slurm.start(join(r.home.root, 'bench', 'slurm'), p.daemonWorkers * p.capacity, variant);
            try {
              const sequential = await s.sequentialJobs(jobs);
              log(`  ${jobs} sbatch jobs: ${sequential.perSecond.toFixed(1)}/s`);
              const array = await s.arrayJob(jobs);
              log(`  job array of ${jobs}: ${array.perSecond.toFixed(1)}/s`);
              const latency = await s.latency(p.slurmLatencyJobs);
              log(`  sbatch --wait: median ${latency.medianMs.toFixed(0)} ms`);
              slurm[variant] = { sequential, array, latency };
            } finally {
              await s.stop();
            }
          } catch (e) {
            // A comparison that failed is reported as such; the rest of the run stands.
            const why = ((e as { stderr?: string }).stderr || (e as Error).message).trim().split('\n').pop()!;
            log(`  Slurm (${variant}) failed: ${why}`);
            slurm[variant] = { unavailable: `failed: ${why}` };
          }
        }
        await db.close();
        await dropScratchDatabase(admin, 'dbos_bench_sched');

        const results = { kind: 'sched', machine, parameters: p, ceiling, synthetic: curves, e2e, slurm };
        report.write('results.json', JSON.stringify(results, null, 2) + '\n');
        writeSchedCharts(report.write, curves, e2e, slurm);
        const md = schedMarkdown(results);
        report.write('results.md', md);
        console.log(`\n${md}\nresults: ${report.dir}`);
      } finally {
        await admin.close();
      }
    });
}

type SlurmRun = { sequential: SlurmResult; array: SlurmResult; latency: SlurmLatency } | { unavailable: string };
type SlurmOutcome = Partial<Record<SlurmVariant, SlurmRun>>;

const ran = (r: SlurmRun | undefined) => (r && !('unavailable' in r) ? r : null);

function writeSchedCharts(write: (name: string, content: string) => string, curves: PolicyCurve[], e2e: { sequential: E2eResult; independent: E2eResult; graph: E2eResult }, slurm: SlurmOutcome): void {
  write('synthetic-throughput.svg', lineChart({
    title: 'Scheduling decisions: achieved vs offered (40 schedulers)', xLabel: 'offered decisions/s', yLabel: 'achieved decisions/s',
    series: curves.map((c) => ({ name: c.policy, points: c.steps.map((s) => [s.offered, s.achieved] as [number, number]) })),
  }));
  write('synthetic-latency.svg', lineChart({
    title: 'Scheduling latency (open loop)', xLabel: 'offered decisions/s', yLabel: 'ms', log: true,
    series: curves.flatMap((c) => [
      { name: `${c.policy} median`, points: c.steps.map((s) => [s.offered, s.medianMs] as [number, number]) },
      { name: `${c.policy} p99`, points: c.steps.map((s) => [s.offered, s.p99Ms] as [number, number]) },
    ]),
  }));
  const fast = ran(slurm.fast);
  const guide = ran(slurm.guide);
  write('e2e-throughput.svg', barChart({
    title: 'End to end: true tasks per second', yLabel: 'tasks/s', log: true,
    groups: ['one by one', 'all at once'],
    series: [
      { name: 'dbos', values: [e2e.sequential.perSecond, e2e.independent.perSecond] },
      { name: 'Slurm (fast)', values: [fast?.sequential.perSecond ?? null, fast?.array.perSecond ?? null] },
      { name: 'Slurm (guide)', values: [guide?.sequential.perSecond ?? null, guide?.array.perSecond ?? null] },
    ],
  }));
}

export function schedMarkdown(r: {
  machine: Parameters<typeof machineMarkdown>[0]; parameters: Record<string, unknown>;
  ceiling: { perSecond: number; medianMs: number; p99Ms: number }; synthetic: PolicyCurve[];
  e2e: { sequential: E2eResult; independent: E2eResult; graph: E2eResult }; slurm: SlurmOutcome;
}): string {
  const cores = r.machine.cores;
  const best = Math.max(...r.synthetic.map((c) => c.closedLoop.achieved));
  const fifo = r.synthetic.find((c) => c.policy === 'fifo')!;
  const halfStep = (c: PolicyCurve) => c.steps.reduce((a, s) => (Math.abs(s.offered - c.closedLoop.achieved / 2) < Math.abs(a.offered - c.closedLoop.achieved / 2) ? s : a));
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const versus = (v: SlurmVariant) => {
    const s = ran(r.slurm[v]);
    if (!s) return { text: `Slurm (${v}) not measured`, met: '—' };
    const one = r.e2e.sequential.perSecond / s.sequential.perSecond;
    const all = r.e2e.independent.perSecond / s.array.perSecond;
    return { text: `${one.toFixed(1)}× one by one; ${all.toFixed(1)}× all at once (vs a job array)`, met: yes(one >= 30 && all >= 30) };
  };
  const slurmRows = (['fast', 'guide'] as SlurmVariant[]).flatMap((v) => {
    const s = ran(r.slurm[v]);
    const name = `Slurm (${v})`;
    if (!s) return [[name, (r.slurm[v] as { unavailable: string } | undefined)?.unavailable ?? 'not run', null, null, null, null, null]];
    return [
      [name, 'one sbatch per job', s.sequential.jobs, s.sequential.seconds, s.sequential.perSecond, null, null],
      [name, 'one job array', s.array.jobs, s.array.seconds, s.array.perSecond, null, null],
      [name, 'sbatch --wait, one at a time', s.latency.jobs, null, null, s.latency.medianMs, s.latency.p99Ms],
    ];
  });
  return [
    '# dbos bench sched',
    '',
    machineMarkdown(r.machine),
    '',
    `Parameters: ${JSON.stringify(r.parameters)}`,
    '',
    '## Targets',
    '',
    mdTable(['target', 'measured', 'met'], [
      ['≥ 9,400 decisions/s per core (the paper\'s 750,000/s on 80 cores)', `${(best / cores).toFixed(0)} per core (${best.toFixed(0)}/s on ${cores} cores, best policy, 40 schedulers)`, yes(best / cores >= 9400)],
      ['p99 < 1 ms at half that load', `FIFO at ${halfStep(fifo).offered}/s (half its maximum): p99 ${halfStep(fifo).p99Ms.toFixed(2)} ms`, yes(halfStep(fifo).p99Ms < 1 && best / cores >= 9400)],
      ['end to end ≥ 30× Slurm (fast: scheduling every second)', versus('fast').text, versus('fast').met],
      ['end to end ≥ 30× Slurm (guide: high-throughput guide, default intervals)', versus('guide').text, versus('guide').met],
    ]),
    '',
    '## The ceiling: this database\'s raw single-row transaction rate',
    '',
    `${r.ceiling.perSecond.toFixed(0)} autocommit single-row UPDATEs per second from ${r.parameters.schedulers} connections (median ${r.ceiling.medianMs.toFixed(2)} ms, p99 ${r.ceiling.p99Ms.toFixed(2)} ms). A decision is one transaction that reads and writes several rows, so it cannot pass this.`,
    '',
    '## Synthetic scheduling (the paper\'s Figure 5): tasks assigned, not run',
    '',
    mdTable(['policy', 'offered/s', 'achieved/s', 'median ms', 'p99 ms'], r.synthetic.flatMap((c) => [
      ...c.steps.map((st) => [c.policy, st.offered, Math.round(st.achieved), st.medianMs, st.p99Ms]),
      [`${c.policy} (closed loop, max)`, '—', Math.round(c.closedLoop.achieved), c.closedLoop.medianMs, c.closedLoop.p99Ms],
    ])),
    '',
    '## End to end: `true` tasks through dbos sched + dbos worker, and through Slurm',
    '',
    mdTable(['system', 'workload', 'tasks', 'seconds', 'tasks/s', 'median ms', 'p99 ms'], [
      ['dbos', 'submitted one by one (library)', r.e2e.sequential.tasks, r.e2e.sequential.seconds, r.e2e.sequential.perSecond, r.e2e.sequential.medianMs, r.e2e.sequential.p99Ms],
      ['dbos', 'submitted at once (one graph, no edges)', r.e2e.independent.tasks, r.e2e.independent.seconds, r.e2e.independent.perSecond, r.e2e.independent.medianMs, r.e2e.independent.p99Ms],
      ['dbos', 'graph: 10 layers, each task after 2 of the layer before', r.e2e.graph.tasks, r.e2e.graph.seconds, r.e2e.graph.perSecond, r.e2e.graph.medianMs, r.e2e.graph.p99Ms],
      ...slurmRows,
    ]),
    '',
    `Slurm configurations: fast = SchedulerParameters=${SCHEDULER_PARAMETERS.fast}; guide = SchedulerParameters=${SCHEDULER_PARAMETERS.guide}. Both: ${'CPUs = the dbos workers\' total capacity'}, no accounting, proctrack/linuxproc, MinJobAge=2.`,
    '',
    'Charts: synthetic-throughput.svg, synthetic-latency.svg, e2e-throughput.svg.',
    '',
  ].join('\n');
}
