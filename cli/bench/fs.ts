// dbos bench fs: the paper's filesystem experiments (section 4.4) on ext4,
// bindfs over ext4, dbos through FUSE and dbos through the shim, side by side.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { Db } from '../../schema/db.js';
import { migrate } from '../../schema/migrations.js';
import { DAEMON_NODE_FLAGS } from '../../fs/fuse/daemon.js';
import { EXPERIMENTS, runFsBench, type Experiment, type FsBenchParams, type FsBenchResults, type Measured, type PerTarget, type Rate, type Stream } from '../../fs/bench/run.js';
import { growsUntilSaturated, SATURATED } from '../../fs/bench/machine-load.js';
import { spanOf, versus } from '../../fs/bench/rounds.js';
import { ext4DirProblem, TARGET_NAMES, type TargetName } from '../../fs/bench/targets.js';
import { barChart, lineChart } from './chart.js';
import { describeMachine, machineMarkdown, mdTable, openReport, type Machine } from './report.js';
import { CLI_ENTRY } from '../entry.js';
import { dropScratchDatabase, scratchDatabase } from './scratch.js';
import { CliError } from '../errors.js';
import { listOf, parseSize, positiveSeconds, wholeNumber } from '../units.js';
import { restartWithEmptyBufferPool } from '../commands/server.js';
import { connect, resolveTarget } from '../target.js';

const C_SOURCES = {
  creates: fileURLToPath(new URL('../../../fs/bench/c/creates.c', import.meta.url)),
  ownerSizes: fileURLToPath(new URL('../../../fs/bench/c/owner_sizes.c', import.meta.url)),
  randBlocks: fileURLToPath(new URL('../../../fs/bench/c/randblocks.c', import.meta.url)),
};

/**
 * The paper's scale; --quick and the flags scale it down. The paper gives no
 * duration: each Figure 10 cell runs three rounds of 10 s (fs/bench/rounds.ts).
 */
const PAPER: FsBenchParams = {
  experiments: [...EXPERIMENTS], clients: 40, filesPerClient: 100, fileBytes: 256 << 10, blockBytes: 2048, seconds: 10, rounds: 3,
  createThreads: 40, createsPerThread: 500, durablePerThread: 500, analyticsFiles: 100_000,
  parallelClients: [1, 2, 4, 8, 16], parallelFileBytes: 64 << 20, parallelBlockBytes: 8192, parallelReadPasses: 4, seqBytes: 1 << 30,
};
const QUICK: Partial<FsBenchParams> = {
  clients: 8, filesPerClient: 10, seconds: 3, createsPerThread: 50, durablePerThread: 50, analyticsFiles: 5000,
  parallelClients: [1, 2, 4], parallelFileBytes: 8 << 20, seqBytes: 128 << 20,
};

interface FsOptions {
  quick?: boolean; only?: Experiment[]; clients?: number; filesPerClient?: number; seconds?: number; rounds?: number; creates?: number; durableCreates?: number;
  analyticsFiles?: number; parallelClients?: number[]; parallelSize?: number; readPasses?: number; seqSize?: number; ext4Dir?: string; out?: string; db?: string;
}

export function registerFsBench(bench: Command): void {
  bench.command('fs')
    .description('the paper\'s filesystem experiments (Figures 10 and 11, Tables 1 and 2, sequential I/O) on ext4, bindfs, a null filesystem on dbos\'s FUSE binding, dbos through FUSE and through the shim')
    .option('--quick', 'a small run (8 clients of 10 files, 3 s rounds, 5,000 files for Table 2, 128 MiB sequential)')
    .option('--only <experiments>', `a comma-separated subset of ${EXPERIMENTS.join(',')}`, listOf('--only', (v) => {
      if (!(EXPERIMENTS as readonly string[]).includes(v)) throw new CliError(`--only takes ${EXPERIMENTS.join(', ')} (got "${v}").`);
      return v as Experiment;
    }))
    .option('--clients <n>', 'Figure 10 clients (paper: 40)', wholeNumber('--clients', 1))
    .option('--files-per-client <n>', 'Figure 10 files per client (paper: 100)', wholeNumber('--files-per-client', 1))
    .option('--seconds <s>', 'how long each round of a Figure 10 cell runs (default 10)', positiveSeconds('--seconds'))
    .option('--rounds <n>', 'how many times each cell of Figures 10 and 11, Table 1 and the sequential runs is measured, targets taking turns; the report gives the median (default 3)', wholeNumber('--rounds', 1))
    .option('--creates <n>', 'Table 1 files per thread (40 threads)', wholeNumber('--creates', 1))
    .option('--durable-creates <n>', 'Table 1 durable creates per thread (40 threads)', wholeNumber('--durable-creates', 1))
    .option('--analytics-files <n>', 'Table 2 files (default 100,000)', wholeNumber('--analytics-files', 1))
    .option('--parallel-clients <n>', 'Figure 11 client counts, comma-separated', listOf('--parallel-clients', wholeNumber('--parallel-clients', 1)))
    .option('--parallel-size <bytes>', 'Figure 11 file size per client (e.g. 64M)', (v) => parseSize(v, '--parallel-size'))
    .option('--read-passes <n>', 'how many times Figure 11\'s readers read their files, each pass a new open (default 4)', wholeNumber('--read-passes', 1))
    .option('--seq-size <bytes>', 'sequential file size (default 1G)', (v) => parseSize(v, '--seq-size'))
    .option('--ext4-dir <dir>', 'a directory on ext4 to use instead of a loop-mounted image')
    .option('--out <dir>', 'results folder (default results/fs-<time>)')
    .option('--db <url>', 'the server to use instead of the private one (needs CREATE DATABASE)')
    .action(async (o: FsOptions) => {
      if (process.getuid?.() !== 0) throw new CliError('dbos bench fs needs root: it mounts an ext4 image and bindfs, and empties the page cache between phases.');
      for (const c of Object.values(C_SOURCES)) if (!existsSync(c)) throw new CliError(`${c} is missing: run dbos bench fs from a checkout of the repository.`);
      const ext4Problem = o.ext4Dir === undefined ? null : ext4DirProblem(o.ext4Dir);
      if (ext4Problem) throw new CliError(`--ext4-dir: ${ext4Problem}`);
      const rerun = rerunWithDaemonFlags();
      if (rerun !== null) {
        process.exitCode = rerun;
        return;
      }
      const base = { ...PAPER, ...(o.quick ? QUICK : {}) };
      const params: FsBenchParams = {
        ...base, experiments: o.only ?? base.experiments, clients: o.clients ?? base.clients, filesPerClient: o.filesPerClient ?? base.filesPerClient,
        seconds: o.seconds ?? base.seconds, rounds: o.rounds ?? base.rounds, createsPerThread: o.creates ?? base.createsPerThread, durablePerThread: o.durableCreates ?? base.durablePerThread, analyticsFiles: o.analyticsFiles ?? base.analyticsFiles,
        parallelClients: o.parallelClients ?? base.parallelClients, parallelFileBytes: o.parallelSize ?? base.parallelFileBytes,
        parallelReadPasses: o.readPasses ?? base.parallelReadPasses, seqBytes: o.seqSize ?? base.seqBytes,
      };
      const r = resolveTarget(o.db);
      const admin = await connect(r);
      const report = openReport('fs', o.out);
      const workDir = join(r.home.root, 'bench', 'fs');
      try {
        const machine = await describeMachine(admin);
        const target = await scratchDatabase(admin, r.target, 'dbos_bench_fs');
        const db = new Db(target, { opTimeoutMs: 600_000, poolSize: 48 });
        try {
          await migrate(db);
          // Only the private server is ours to restart; another keeps its buffer pool warm, and the report says so.
          const emptyBufferPool = r.private ? () => restartWithEmptyBufferPool(r.home) : undefined;
          const results = await runFsBench({ params, workDir, ext4Dir: o.ext4Dir, dbTarget: target, db, emptyBufferPool, cli: CLI_ENTRY, cSources: C_SOURCES, log: (m) => console.log(m) });
          const all = { kind: 'fs', machine, parameters: params, results };
          report.write('results.json', JSON.stringify(all, null, 2) + '\n');
          writeFsCharts(report.write, results);
          const md = fsMarkdown(machine, params, results);
          report.write('results.md', md);
          console.log(`\n${md}\nresults: ${report.dir}`);
          const failed = Object.keys(results.errors ?? {});
          if (failed.length) throw new CliError(`${failed.join(', ')} failed (the error is in ${report.dir}/results.md); the other results are there too.`);
        } finally {
          await db.close();
        }
        await dropScratchDatabase(admin, 'dbos_bench_fs');
      } finally {
        rmSync(workDir, { recursive: true, force: true });
        await admin.close();
      }
    });
}

/**
 * The shim target runs in this process, so it runs under the daemon's Node
 * flags, as dbos-fuse does: otherwise the two would compare two runtimes
 * (without them the shim's reads took about a fifth more CPU per MiB). A
 * process started without them runs the command again with them and answers
 * with that run's exit status; null when this process has them.
 */
function rerunWithDaemonFlags(): number | null {
  if (DAEMON_NODE_FLAGS.every((f) => process.execArgv.includes(f))) return null;
  const run = spawnSync(process.execPath, [...DAEMON_NODE_FLAGS, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  if (run.error) throw new CliError(`could not run dbos bench fs under the daemon's Node flags: ${run.error.message}`);
  return run.status ?? 1;
}

const mib = (b: number | null | undefined) => (b === null || b === undefined ? null : b / 2 ** 20);
const x = (v: number | null) => (v === null ? '—' : `${v.toFixed(2)}×`);
const pct = (q: number) => `${(q * 100).toFixed(0)}%`;

/** InnoDB pages read from disk during a dbos measurement: 0 means dbos ran from its buffer pool. */
const pagesRead = (t: TargetName, m: { innodbPagesRead?: number | null }) => (t.startsWith('dbos') ? m.innodbPagesRead ?? null : '—');

/** Each round's value of a measure, in the order run (one value when the run had one round). */
const roundsOf = (rounds: number[] | undefined, median: number) => rounds ?? [median];
const rateRounds = (r: Rate) => roundsOf(r.roundsOpsPerSecond, r.opsPerSecond);
const streamRounds = (s: Stream) => roundsOf(s.roundsMibPerSecond, s.mibPerSecond);
const listed = (xs: number[]) => xs.map((v) => (v >= 100 ? Math.round(v) : +v.toFixed(1))).join(' / ');

/** How busy the machine was, as a percentage of all cores. */
const busyPct = (b: number | null) => (b === null ? null : `${(b * 100).toFixed(0)}%`);
/** A rate with how busy the machine was while it ran, e.g. "91 (70%)". */
const withBusy = (v: number, b: number | null, digits = 0) => `${v.toFixed(digits)}${b === null ? '' : ` (${busyPct(b)})`}`;
const vsText = (v: ReturnType<typeof versus>, format: (q: number) => string) =>
  (v === null ? '—' : v.low === v.high ? format(v.median) : `${format(v.median)} (rounds ${format(v.low)}–${format(v.high)})`);

function rateTable<T extends Rate>(m: PerTarget<T>, avg = false): string {
  const latency = avg ? ['avg µs'] : ['median µs', 'p99 µs'];
  const headers = ['target', 'ops/s', 'each round', ...latency, 'peak RSS MiB', 'InnoDB pages read', 'machine busy', 'vs bindfs'];
  return mdTable(headers, TARGET_NAMES.filter((t) => m[t]).map((t) => {
    const r = m[t]!;
    const vs = vsText(m.bindfs ? versus(rateRounds(r), rateRounds(m.bindfs)) : null, x);
    return [t, Math.round(r.opsPerSecond), listed(rateRounds(r)), ...(avg ? [r.avgUs ?? null] : [r.medianUs, r.p99Us]), mib(r.peakRssBytes), pagesRead(t, r), busyPct(r.cpuBusy), vs];
  }));
}

/** The issue's targets, each with the measured ratio and whether it is met. */
function targetRows(r: FsBenchResults): (string | number | null)[][] {
  const rows: (string | number | null)[][] = [];
  /** dbos-fuse against bindfs, and the ceiling: the binding alone (fuse-null) against bindfs. Medians decide. */
  const half = <T>(label: string, m: PerTarget<T>, rounds: (v: T) => number[]) => {
    const vs = (t: TargetName) => (m[t] && m.bindfs ? versus(rounds(m[t]!), rounds(m.bindfs)) : null);
    const q = vs('dbos-fuse');
    const ceiling = vs('fuse-null');
    rows.push([`${label}: dbos-fuse ≥ 50% of bindfs`, `${vsText(q, pct)}; the binding alone, fuse-null: ${vsText(ceiling, pct)}`, q === null ? '—' : q.median >= 0.5 ? 'yes' : 'no']);
  };
  if (r.fig10a) half('Figure 10a', r.fig10a, rateRounds);
  if (r.fig10b) half('Figure 10b', r.fig10b, rateRounds);
  if (r.creates) half('creates', r.creates, rateRounds);
  if (r.deletes) half('deletes', r.deletes, rateRounds);
  if (r.seq) {
    half('sequential read', r.seq, (v) => streamRounds(v.read));
    half('sequential write', r.seq, (v) => streamRounds(v.write));
  }
  if (r.durableCreates) {
    const d = r.durableCreates;
    const vsExt4 = (v: Measured<Rate> | undefined) => (v && d.ext4 ? versus(rateRounds(v), rateRounds(d.ext4)) : null);
    const q = vsExt4(d['dbos-fuse']);
    const qs = vsExt4(d['dbos-shim']);
    const f = r.durableFsync?.['dbos-fuse'];
    const qf = vsExt4(f);
    const met = Math.max(q?.median ?? 0, qs?.median ?? 0, qf?.median ?? 0) >= 1;
    const withFsync = f ? `, fuse with fsync ${vsText(qf, x)}` : '';
    rows.push(['durable creates: dbos ≥ ext4 with fsync', `fuse ${vsText(q, x)}, shim ${vsText(qs, x)}${withFsync}`, d.ext4 ? (met ? 'yes' : 'no') : '—']);
  }
  if (r.table2) {
    const t = r.table2;
    const warm = t.ext4C.warmMs / t.dbosSummary.warmMs;
    // Like for like: warm against warm, and cold (both caches emptied) against cold.
    const cold = t.ext4C.coldMs / t.dbosSummary.coldMs;
    const paper = `the paper's statement ${(t.ext4C.warmMs / t.dbosSql.warmMs).toFixed(0)}×`;
    rows.push([`analytics at ${t.files} files: SQL ≥ 100× the ext4 scan`, `summary ${warm.toFixed(0)}× the warm C scan, ${cold.toFixed(0)}× the cold one; ${paper}`, warm >= 100 ? 'yes' : cold >= 100 ? 'cold only' : 'no']);
  }
  if (r.fig11) {
    for (const t of ['dbos-fuse', 'dbos-shim'] as TargetName[]) {
      const rowsT = r.fig11[t];
      if (!rowsT || rowsT.length < 2) continue;
      const verdicts = (['write', 'read'] as const).map((phase) => {
        const g = growsUntilSaturated(rowsT.map((q) => ({ clients: q.clients, value: q[phase].mibPerSecond, cpuBusy: q[phase].cpuBusy })));
        const curve = rowsT.map((q) => withBusy(q[phase].mibPerSecond, q[phase].cpuBusy)).join(' → ');
        const busyAt = (clients: number) => { const b = rowsT.find((q) => q.clients === clients)?.[phase].cpuBusy; return b == null ? 'busy unknown' : `${busyPct(b)} busy`; };
        const why = g.met ? (g.saturatedAt !== undefined ? `grows until the machine saturates at ${g.saturatedAt} clients` : 'grows at every step')
          : `stops growing from ${g.stalledFrom} to ${g.stalledAt} clients, with cores to spare at ${g.stalledFrom} (${busyAt(g.stalledFrom!)})`;
        return { met: g.met, text: `${phase} MiB/s (machine busy) ${curve}: ${why}` };
      });
      rows.push([`Figure 11 (${t}): throughput grows with clients until the machine saturates (${(SATURATED * 100).toFixed(0)}% of all cores busy)`,
        verdicts.map((v) => v.text).join('; '), verdicts.every((v) => v.met) ? 'yes' : verdicts[0]!.met ? 'writes only' : verdicts[1]!.met ? 'reads only' : 'no']);
    }
  }
  const peaks = fusePeaks(r);
  if (peaks.length) rows.push(['dbos FUSE daemon memory stays bounded', `peak RSS ${Math.max(...peaks).toFixed(0)} MiB over all experiments`, 'see the bound in README']);
  return rows;
}

function fusePeaks(r: FsBenchResults): number[] {
  const all: (Measured<unknown> | undefined)[] = [r.fig10a?.['dbos-fuse'], r.fig10b?.['dbos-fuse'], r.creates?.['dbos-fuse'], r.deletes?.['dbos-fuse'],
    r.durableCreates?.['dbos-fuse'], r.seq?.['dbos-fuse'], ...(r.fig11?.['dbos-fuse'] ?? []).flatMap((q) => [q.write, q.read])];
  return all.map((m) => mib(m?.peakRssBytes)).filter((v): v is number => v !== null);
}

export function fsMarkdown(machine: Machine, p: FsBenchParams, r: FsBenchResults): string {
  const out = ['# dbos bench fs', '', machineMarkdown(machine), '', `Parameters: ${JSON.stringify(p)}.`, '',
    `Targets: ext4 (a loop-mounted image), bindfs over that ext4 (FUSE passthrough in C), fuse-null (dbos's FUSE binding and mount options serving names and sizes from memory, no data and no database: the most dbos through FUSE could do here), dbos through its FUSE mount, dbos through the POSIX shim in the benchmark process (its RSS is the whole process). Every cell but Table 2's is measured ${p.rounds === 1 ? 'once' : `${p.rounds} times`}, the targets taking turns and each round starting one target further on; a table gives the median round, each round's value, and the ratio of the medians with the lowest and highest of the rounds' ratios (round i against round i; the shim's rounds of Figure 10 run after the mounted targets', so that the buffer pool holds one copy of the files at a time). Figure 10 runs warm on every target (the files were just written); the page cache is emptied before every other read phase, ${r.bufferPoolEmptied ? "and so, before dbos's, is MariaDB's buffer pool, dbos's cache (the private server restarts without reloading it)" : "but not MariaDB's buffer pool (not the private server: dbos may read warm where the others read cold)"}; "InnoDB pages read" counts what dbos read from disk. "Machine busy" is the share of all cores busy while a cell ran (its median round; iowait counts as idle): it tells a curve that stopped growing because the machine saturated from one that stopped with cores to spare. The command lines (fio, the C programs for Figure 10 and Table 1, and the FUSE daemons with their Node flags) are in results.json.`, '',
    '## Targets', '', mdTable(['target', 'measured', 'met'], targetRows(r)), ''];
  if (r.fig10a) out.push('## Figure 10a: 20 random 2 KiB blocks per open (half reads, half writes; dbos files have 2 KiB blocks, as in the paper)', '', rateTable(r.fig10a), '');
  if (r.fig10b) out.push('## Figure 10b: every block in another file', '', rateTable(r.fig10b), '');
  if (r.creates && r.deletes) {
    out.push(`## Table 1: creates and deletes, ${p.createThreads} threads × ${p.createsPerThread} files`, '', '### Creates', '', rateTable(r.creates, true), '', '### Deletes', '', rateTable(r.deletes, true), '');
  }
  if (r.durableCreates) {
    const d = r.durableCreates;
    out.push(`### Durable creates (${p.createThreads} threads × ${p.durablePerThread})`, '', mdTable(['target', 'ops/s', 'each round', 'avg µs', 'how'],
      [...TARGET_NAMES.filter((t) => d[t]).map((t) => [t, d[t]!] as const), ...(r.durableFsync?.['dbos-fuse'] ? [['dbos-fuse with fsync', r.durableFsync['dbos-fuse']] as const] : [])]
        .map(([t, v]) => [t, Math.round(v.opsPerSecond), listed(rateRounds(v)), v.avgUs ?? null, v.how])), '');
  }
  if (r.fig11) {
    const f = r.fig11;
    const targets = TARGET_NAMES.filter((t) => f[t]);
    out.push(`## Figure 11: clients streaming ${p.parallelFileBytes / 2 ** 20} MiB each in ${p.parallelBlockBytes / 1024} KiB I/Os (dbos: parallel files, ${p.parallelBlockBytes / 1024} KiB blocks), reading each file ${p.parallelReadPasses ?? 1} time(s), MiB/s (machine busy while the I/O ran), the median of ${p.rounds} round(s)`, '',
      mdTable(['clients', ...targets.flatMap((t) => [`${t} write`, `${t} read`])],
        p.parallelClients.map((c) => [c, ...targets.flatMap((t) => { const q = f[t]!.find((z) => z.clients === c); return q ? [withBusy(q.write.mibPerSecond, q.write.cpuBusy, 1), withBusy(q.read.mibPerSecond, q.read.cpuBusy, 1)] : [null, null]; })])), '');
  }
  if (r.seq) {
    const s = r.seq;
    const vs = (t: TargetName, phase: 'write' | 'read') => vsText(s.bindfs ? versus(streamRounds(s[t]![phase]), streamRounds(s.bindfs[phase])) : null, x);
    out.push(`## Sequential ${p.seqBytes / 2 ** 20} MiB, 1 MiB I/Os`, '', mdTable(['target', 'write MiB/s', 'each round', 'read MiB/s', 'each round', 'peak RSS MiB', 'InnoDB pages read', 'write vs bindfs', 'read vs bindfs'],
      TARGET_NAMES.filter((t) => s[t]).map((t) => [t, s[t]!.write.mibPerSecond, listed(streamRounds(s[t]!.write)), s[t]!.read.mibPerSecond, listed(streamRounds(s[t]!.read)),
        mib(s[t]!.peakRssBytes), pagesRead(t, s[t]!), vs(t, 'write'), vs(t, 'read')])), '');
  }
  if (r.table2) {
    const t = r.table2;
    out.push(`## Table 2: total size per owner of the files of at least ${t.minSize / 1024} KiB, ${t.files} files`, '',
      mdTable(['method', 'cold ms', 'warm ms (median)', 'lines of code', 'answer agrees'], [
        ['dbos: SQL, the paper\'s statement', t.dbosSql.coldMs, t.dbosSql.warmMs, t.linesOfCode.sql, t.dbosSql.agrees ? 'yes' : 'NO'],
        ['dbos: SQL over File_size_class (dbos fs usage)', t.dbosSummary.coldMs, t.dbosSummary.warmMs, t.linesOfCode.summary, t.dbosSummary.agrees ? 'yes' : 'NO'],
        ['ext4: C program (nftw + stat)', t.ext4C.coldMs, t.ext4C.warmMs, t.linesOfCode.c, t.ext4C.agrees ? 'yes' : 'NO'],
        ['ext4: find + awk', t.ext4Find.coldMs, t.ext4Find.warmMs, t.linesOfCode.find, t.ext4Find.agrees ? 'yes' : 'NO'],
      ]), '', `SQL: \`${t.sql}\``, '', 'SQL over the summary, which triggers keep in step with every size row:', '', '```sql', t.summarySql, '```', '', `find: \`${t.find}\``, '');
  }
  if (r.errors) out.push('## Failed experiments', '', ...Object.entries(r.errors).map(([k, v]) => `- ${k}: ${v.split('\n')[0]}`), '');
  out.push('Charts: fig10.svg, table1.svg, fig11-write.svg, fig11-read.svg, seq.svg, table2.svg (those that ran).', '');
  return out.join('\n');
}

function writeFsCharts(write: (name: string, content: string) => string, r: FsBenchResults): void {
  const targets = TARGET_NAMES;
  const bars = (groups: (PerTarget<Rate> | undefined)[]) => targets.map((t) => ({
    name: t, values: groups.map((g) => g?.[t]?.opsPerSecond ?? null), spans: groups.map((g) => (g?.[t] ? spanOf(rateRounds(g[t]!)) : null)),
  })).filter((s) => s.values.some((v) => v !== null));
  if (r.fig10a || r.fig10b) write('fig10.svg', barChart({ title: 'Figure 10: random 2 KiB blocks (median round; whiskers: lowest and highest)', yLabel: 'ops/s', log: true, groups: ['10a: 20 per open', '10b: 1 per open'], series: bars([r.fig10a, r.fig10b]) }));
  if (r.creates) write('table1.svg', barChart({ title: 'Table 1: creates and deletes', yLabel: 'ops/s', log: true, groups: ['creates', 'deletes', 'durable creates'], series: bars([r.creates, r.deletes, r.durableCreates]) }));
  if (r.fig11) {
    for (const phase of ['write', 'read'] as const) {
      write(`fig11-${phase}.svg`, lineChart({
        title: `Figure 11: parallel ${phase}s`, xLabel: 'clients', yLabel: 'MiB/s',
        series: targets.filter((t) => r.fig11![t]).map((t) => ({ name: t, points: r.fig11![t]!.map((q) => [q.clients, q[phase].mibPerSecond] as [number, number]) })),
      }));
    }
  }
  if (r.seq) {
    write('seq.svg', barChart({ title: 'Sequential I/O, 1 MiB', yLabel: 'MiB/s', groups: ['write', 'read'],
      series: targets.filter((t) => r.seq![t]).map((t) => {
        const { write, read } = r.seq![t]!;
        return { name: t, values: [write.mibPerSecond, read.mibPerSecond], spans: [spanOf(streamRounds(write)), spanOf(streamRounds(read))] };
      }) }));
  }
  if (r.table2) {
    const t = r.table2;
    write('table2.svg', barChart({ title: `Table 2: size per owner, ${t.files} files`, yLabel: 'ms', log: true, groups: ['warm', 'cold'],
      series: ([['dbos SQL', t.dbosSql], ['dbos summary', t.dbosSummary], ['ext4 C', t.ext4C], ['ext4 find', t.ext4Find]] as const).map(([name, m]) => ({ name, values: [m.warmMs, m.coldMs] })) }));
  }
}
