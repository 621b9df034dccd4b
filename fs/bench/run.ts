// dbos bench fs: the paper's section 4.4 experiments (Figures 10 and 11,
// Tables 1 and 2, plus sequential I/O) on ext4, bindfs over ext4, dbos through
// FUSE and dbos through the shim, in one run, with the FUSE daemons' peak memory;
// every cell but Table 2's in rounds (rounds.ts).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../../schema/db.js';
import type { DbTarget } from '../../schema/url.js';
import { BLOCK_SIZE_XATTR, PLACEMENT_XATTR } from '../dbosfs.js';
import { USAGE_SQL } from '../sql/usage.js';
import {
  buildDbosTree, buildExt4Tree, expectedTotals, FIND_PIPELINE, linesOfCode, MIN_SIZE, OWNER_SQL, timeScan, timeSql, timeSummary, type Timed,
} from './analytics.js';
import { fio, streamJob } from './fio.js';
import { machineBusy, type IoWindow } from './machine-load.js';
import { combineMeasured, combineRates, combineStreams, inRounds, perTarget, type Cell } from './rounds.js';
import { createDelete, layoutRandomBlocks, randomBlocks, streams, type LatencyResult } from './shim-workloads.js';
import { commandLine, openTargets, peakRss, type MountedTarget, type TargetName, type Targets } from './targets.js';

export const EXPERIMENTS = ['fig10a', 'fig10b', 'table1', 'fig11', 'seq', 'table2'] as const;
export type Experiment = (typeof EXPERIMENTS)[number];

export interface FsBenchParams {
  experiments: Experiment[];
  clients: number;
  filesPerClient: number;
  fileBytes: number;
  blockBytes: number;
  seconds: number;
  /** How many times each cell of Figures 10 and 11, Table 1 and the sequential runs is measured (rounds.ts). */
  rounds: number;
  createThreads: number;
  createsPerThread: number;
  durablePerThread: number;
  analyticsFiles: number;
  parallelClients: number[];
  parallelFileBytes: number;
  parallelBlockBytes: number;
  /** How many times Figure 11's readers read their files: one 64 MiB pass lasts about 0.2 s, too short to measure. */
  parallelReadPasses: number;
  seqBytes: number;
}

/**
 * One measurement on one target, with the FUSE daemon's (or, for the shim,
 * this process's) peak RSS, the pages InnoDB read from disk meanwhile
 * (whether dbos ran from its buffer pool; about 0 for the other targets), and
 * the share of the machine's cores that were busy (machine-load.ts).
 */
export type Measured<T> = T & { peakRssBytes: number | null; innodbPagesRead: number | null; cpuBusy: number | null };
export type PerTarget<T> = Partial<Record<TargetName, Measured<T>>>;

/** With rounds: each rate is the median round's, `seconds` the rounds' sum. */
export interface Rate { opsPerSecond: number; medianUs: number; p99Us: number; avgUs?: number; seconds: number; roundsOpsPerSecond?: number[] }
export interface Stream { mibPerSecond: number; seconds: number; roundsMibPerSecond?: number[]; ioWindow?: IoWindow }

/** One client count of Figure 11 on one target. */
export interface Fig11Point { clients: number; write: Measured<Stream>; read: Measured<Stream> }

export interface FsBenchResults {
  fig10a?: PerTarget<Rate>;
  fig10b?: PerTarget<Rate>;
  creates?: PerTarget<Rate>;
  deletes?: PerTarget<Rate>;
  durableCreates?: PerTarget<Rate & { how: string }>;
  /** dbos-fuse only: the durable creates ext4 does, with fsync. */
  durableFsync?: PerTarget<Rate & { how: string }>;
  fig11?: Partial<Record<TargetName, Fig11Point[]>>;
  seq?: PerTarget<SeqRate>;
  /** Whether cold reads also started with InnoDB's buffer pool empty (the private server, restarted). */
  bufferPoolEmptied: boolean;
  table2?: {
    files: number; minSize: number; sql: string; summarySql: string; find: string; linesOfCode: { sql: number; summary: number; c: number; find: number };
    dbosSql: Timed; dbosSummary: Timed; ext4C: Timed; ext4Find: Timed;
  };
  /** Every fio and C workload command line, as run. */
  commands: string[];
  /** Each FUSE daemon's command line (bindfs, fuse-null, dbos-fuse), as the kernel reports it. */
  daemons?: Partial<Record<TargetName, string[]>>;
  /** Experiments that failed, with the error. */
  errors?: Record<string, string>;
}

export interface RunOptions {
  params: FsBenchParams;
  workDir: string;
  ext4Dir?: string;
  dbTarget: DbTarget;
  db: Db;
  /** Empties InnoDB's buffer pool before cold reads, as the kernel's page cache is emptied (Targets.dropCaches). */
  emptyBufferPool?: () => Promise<void>;
  /** The CLI entry point, to mount dbos. */
  cli: string;
  cSources: { creates: string; ownerSizes: string; randBlocks: string };
  log: (m: string) => void;
}

const rateOf = (r: Omit<LatencyResult, 'ops' | 'meanUs'>): Rate => ({ opsPerSecond: r.opsPerSecond, medianUs: r.medianUs, p99Us: r.p99Us, seconds: r.seconds });

/** The command lines of the targets' daemons (which Node flags each ran with is part of what was measured). */
function daemonCommands(mounted: MountedTarget[]): Partial<Record<TargetName, string[]>> {
  const out: Partial<Record<TargetName, string[]>> = {};
  for (const m of mounted) {
    const argv = m.daemonPid === undefined ? null : commandLine(m.daemonPid);
    if (argv) out[m.name] = argv;
  }
  return out;
}

export async function runFsBench(o: RunOptions): Promise<FsBenchResults> {
  const p = o.params;
  const bin = join(o.workDir, 'bin');
  mkdirSync(bin, { recursive: true });
  const creates = join(bin, 'creates');
  const ownerSizes = join(bin, 'owner_sizes');
  const randBlocks = join(bin, 'randblocks');
  execFileSync('gcc', ['-O2', '-pthread', '-o', creates, o.cSources.creates]);
  execFileSync('gcc', ['-O2', '-pthread', '-o', randBlocks, o.cSources.randBlocks]);
  execFileSync('gcc', ['-O2', '-o', ownerSizes, o.cSources.ownerSizes]);

  // ext4 and bindfs both write into the image: every experiment's files, twice, plus Table 2's tree once.
  const bytesPerTarget = p.clients * p.filesPerClient * p.fileBytes + p.parallelClients.reduce((a, b) => a + b, 0) * p.parallelFileBytes + p.seqBytes;
  const gib = Math.ceil((2 * bytesPerTarget + p.analyticsFiles * 16384) / 2 ** 30 * 1.2) + 2;
  const t = await openTargets({ workDir: o.workDir, imageGiB: gib, ext4Dir: o.ext4Dir, dbTarget: o.dbTarget, db: o.db, log: o.log }, o.cli);
  const res: FsBenchResults = { commands: [], daemons: daemonCommands(t.mounted), bufferPoolEmptied: o.emptyBufferPool !== undefined };
  const has = (e: Experiment) => p.experiments.includes(e);
  try {
    // The server counts from 0 again when emptyBufferPool restarts it: what it had counted is added.
    let countedBeforeRestart = 0;
    const pagesRead = async () => {
      const rows = await o.db.rows<{ Value: string }>("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_reads'").catch(() => []);
      return rows[0] ? countedBeforeRestart + Number(rows[0].Value) : null;
    };
    /**
     * Empties the kernel's page cache, so that reads come from the disk; for a
     * read through dbos (`fromDbos`), first the buffer pool too, when it is
     * ours to empty. The other targets never read the database, and a restart
     * costs seconds: a full run restarted the server 94 times where 38 do.
     */
    const emptyCaches = async (fromDbos: boolean) => {
      if (fromDbos && o.emptyBufferPool) {
        const counted = await pagesRead();
        // First: the server writes its dirty pages out as it stops, and dropCaches syncs them.
        await o.emptyBufferPool();
        if (counted !== null) countedBeforeRestart = counted;
      }
      t.dropCaches();
    };
    const measure: MeasureFn = async (who, f) => {
      const rss = who === null ? null : peakRss(who);
      const before = await pagesRead();
      const busy = machineBusy();
      const r = await f();
      const cpuBusy = busy.stop((r as { ioWindow?: IoWindow }).ioWindow);
      const after = await pagesRead();
      return { ...r, peakRssBytes: rss ? rss.stop() : null, innodbPagesRead: before !== null && after !== null ? after - before : null, cpuBusy };
    };
    // One experiment failing (a full disk, a crashed tool) must not lose the others' results.
    const attempt = async (wanted: boolean, name: string, work: () => Promise<void>) => {
      if (!wanted) return;
      try {
        await work();
      } catch (e) {
        o.log(`${name} failed: ${(e as Error).message.split('\n')[0]}`);
        (res.errors ??= {})[name] = (e as Error).message.slice(0, 2000);
      }
    };
    const runFio = async (dir: string, name: string, job: Record<string, string | number>) => {
      const r = await fio(dir, name, job);
      res.commands.push(r.args.join(' '));
      return r;
    };
    /** The Figure 10 loop on a mounted target (fs/bench/c/randblocks.c). */
    const runRandBlocks = (args: string[]) => {
      res.commands.push([randBlocks, ...args].join(' '));
      return JSON.parse(execFileSync(randBlocks, args, { encoding: 'utf8', maxBuffer: 1 << 20 })) as { ops: number; seconds: number; median_us: number; p99_us: number };
    };

    const logRound = (what: string) => (r: number, key: string) => o.log(`${what}, round ${r + 1} of ${p.rounds}: ${key}`);

    await attempt(has('fig10a') || has('fig10b'), 'fig10', async () => {
      const shape = { clients: p.clients, filesPerClient: p.filesPerClient, fileBytes: p.fileBytes, blockBytes: p.blockBytes, seconds: p.seconds };
      const filesOn = (m: MountedTarget) => [join(m.dir, 'fig10'), String(p.clients), String(p.filesPerClient), String(p.fileBytes)];
      // Both figures use the same files, laid out once on each target.
      for (const m of t.mounted) {
        o.log(`fig10 layout: ${m.name}`);
        mkdirSync(join(m.dir, 'fig10'), { recursive: true });
        // On dbos a block is a row: the files get the experiment's block size, as in the paper.
        if (m.name === 'dbos-fuse') execFileSync('setfattr', ['-n', BLOCK_SIZE_XATTR, '-v', String(p.blockBytes), join(m.dir, 'fig10')]);
        runRandBlocks([...filesOn(m), 'layout']);
      }
      const shimDir = '/shim/fig10';
      let shimLaidOut = false;
      for (const [key, blocksPerOpen] of [['fig10a', 20], ['fig10b', 1]] as const) {
        if (!has(key)) continue;
        // Warm, for every target alike: the files were just written, so ext4's
        // and bindfs's are in the page cache and dbos's in InnoDB's buffer pool.
        const mounted = await inRounds(p.rounds, t.mounted.map((m) => ({
          key: m.name,
          run: () => measure(daemonOf(m), async () => {
            const r = runRandBlocks([...filesOn(m), String(p.blockBytes), String(blocksPerOpen), String(p.seconds)]);
            return { opsPerSecond: r.ops / r.seconds, medianUs: r.median_us, p99Us: r.p99_us, seconds: r.seconds } as Rate;
          }),
        })), logRound(key));
        // The shim's files come after the mounted targets' rounds: a buffer
        // pool that holds one copy of the files need not hold two.
        if (!shimLaidOut) {
          o.log('fig10 layout: dbos-shim');
          await t.shim.mkdir(shimDir, 0o755);
          await t.shim.setxattr(shimDir, BLOCK_SIZE_XATTR, Buffer.from(String(p.blockBytes)));
          await layoutRandomBlocks(t.shim, { ...shape, dir: shimDir });
          shimLaidOut = true;
        }
        const shim = await inRounds(p.rounds, [{
          key: 'dbos-shim' as const,
          run: () => measure(undefined, async () => rateOf(await randomBlocks(t.shim, { ...shape, dir: shimDir, blocksPerOpen }))),
        }], logRound(key));
        res[key] = perTarget(new Map<TargetName, Measured<Rate>[]>([...mounted, ...shim]), combineRates);
      }
    });

    await attempt(has('table1'), 'table1', () => table1(o, t, creates, res, measure, logRound));

    await attempt(has('fig11'), 'fig11', async () => {
      // On dbos the files are parallel files with 8 KiB blocks (they inherit it from the directory).
      for (const m of t.mounted) {
        const dir = join(m.dir, 'fig11');
        mkdirSync(dir, { recursive: true });
        if (m.name === 'dbos-fuse') {
          execFileSync('setfattr', ['-n', PLACEMENT_XATTR, '-v', 'parallel', dir]);
          execFileSync('setfattr', ['-n', BLOCK_SIZE_XATTR, '-v', String(p.parallelBlockBytes), dir]);
        }
      }
      await t.shim.mkdir('/shim/fig11', 0o755);
      await t.shim.setxattr('/shim/fig11', PLACEMENT_XATTR, Buffer.from('parallel'));
      await t.shim.setxattr('/shim/fig11', BLOCK_SIZE_XATTR, Buffer.from(String(p.parallelBlockBytes)));
      type Phases = Omit<Fig11Point, 'clients'>;
      const byTarget = new Map<TargetName, Fig11Point[]>();
      for (const clients of p.parallelClients) {
        const shape = { clients, fileBytes: p.parallelFileBytes, ioBytes: p.parallelBlockBytes };
        // Each round writes new files (an overwrite would be another experiment) and removes them after reading them back.
        const mounted = t.mounted.map((m): Cell<TargetName, Phases> => ({
          key: m.name,
          run: async (round) => {
            const dir = join(m.dir, 'fig11', `c${clients}r${round}`);
            mkdirSync(dir, { recursive: true });
            const name = `par${clients}`;
            const write = await measure(daemonOf(m), async () => pick(await runFio(dir, name, streamJob({ ...shape, phase: 'write' }))));
            await emptyCaches(m.name === 'dbos-fuse');
            const read = await measure(daemonOf(m), async () => pick(await runFio(dir, name, streamJob({ ...shape, phase: 'read', passes: p.parallelReadPasses }))));
            rmSync(dir, { recursive: true, force: true });
            return { write, read };
          },
        }));
        const shim: Cell<TargetName, Phases> = {
          key: 'dbos-shim',
          run: async (round) => {
            const dir = `/shim/fig11/c${clients}r${round}`;
            await t.shim.mkdir(dir, 0o755);
            const stream = (phase: 'write' | 'read') => measure(undefined, async () => pick(await streams(t.shim, dir, clients, p.parallelFileBytes, p.parallelBlockBytes, phase, p.parallelReadPasses)));
            const write = await stream('write');
            await emptyCaches(true);
            const read = await stream('read');
            for (let c = 0; c < clients; c++) await t.shim.unlink(`${dir}/s${c}`);
            return { write, read };
          },
        };
        const rounds = await inRounds(p.rounds, [...mounted, shim], logRound(`fig11, ${clients} clients`));
        for (const [target, rs] of rounds) {
          const phase = (k: keyof Phases) => combineMeasured(rs.map((r) => r[k]), combineStreams);
          byTarget.set(target, [...(byTarget.get(target) ?? []), { clients, write: phase('write'), read: phase('read') }]);
        }
      }
      res.fig11 = Object.fromEntries(byTarget);
    });

    await attempt(has('seq'), 'seq', async () => {
      const shape = { clients: 1, fileBytes: p.seqBytes, ioBytes: 1 << 20 };
      // Each round writes a new file (an overwrite would be another experiment) and removes it afterwards.
      const mounted = t.mounted.map((m): Cell<TargetName, Measured<SeqRate>> => ({
        key: m.name,
        run: async (round) => {
          const dir = join(m.dir, 'seq', `r${round}`);
          mkdirSync(dir, { recursive: true });
          const r = await measure(daemonOf(m), async () => {
            const write = pick(await runFio(dir, 'seq', streamJob({ ...shape, phase: 'write' })));
            await emptyCaches(m.name === 'dbos-fuse');
            return { write, read: pick(await runFio(dir, 'seq', streamJob({ ...shape, phase: 'read' }))) };
          });
          rmSync(dir, { recursive: true, force: true });
          return r;
        },
      }));
      const shim: Cell<TargetName, Measured<SeqRate>> = {
        key: 'dbos-shim',
        run: async (round) => {
          const dir = `/shim/seq/r${round}`;
          if (round === 0) await t.shim.mkdir('/shim/seq', 0o755);
          await t.shim.mkdir(dir, 0o755);
          const r = await measure(undefined, async () => {
            const write = pick(await streams(t.shim, dir, 1, p.seqBytes, 1 << 20, 'write'));
            await emptyCaches(true);
            return { write, read: pick(await streams(t.shim, dir, 1, p.seqBytes, 1 << 20, 'read')) };
          });
          await t.shim.unlink(`${dir}/s0`);
          return r;
        },
      };
      res.seq = perTarget(await inRounds(p.rounds, [...mounted, shim], logRound('seq')),
        (rs) => ({ write: combineStreams(rs.map((r) => r.write)), read: combineStreams(rs.map((r) => r.read)) }));
    });

    await attempt(has('table2'), 'table2', async () => {
      const ext4 = t.mounted.find((m) => m.name === 'ext4')!;
      const tree = join(ext4.dir, 'table2');
      o.log(`table2: building ${p.analyticsFiles} files on ext4`);
      buildExt4Tree(tree, p.analyticsFiles);
      o.log(`table2: building ${p.analyticsFiles} files on dbos (through the shim, 40 clients)`);
      await buildDbosTree(t.shim, '/shim/table2', p.analyticsFiles, 40);
      await t.shim.sync();
      const expected = expectedTotals(p.analyticsFiles);
      o.log('table2: timing');
      res.table2 = {
        files: p.analyticsFiles, minSize: MIN_SIZE, sql: OWNER_SQL, summarySql: USAGE_SQL, find: FIND_PIPELINE, linesOfCode: linesOfCode(o.cSources.ownerSizes),
        dbosSql: await timeSql(o.db, expected, () => emptyCaches(true)),
        dbosSummary: await timeSummary(o.db, expected, () => emptyCaches(true)),
        ext4C: await timeScan([ownerSizes, tree, String(MIN_SIZE)], expected, () => emptyCaches(false)),
        ext4Find: await timeScan(['bash', '-c', FIND_PIPELINE.replace('DIR', `'${tree}'`)], expected, () => emptyCaches(false)),
      };
    });
    return res;
  } finally {
    await t.close();
  }
}

/** A stream's rate, and when it was measured (for measure's machine load), without the tool's other output. */
const pick = (r: { mibPerSecond: number; seconds: number; ioWindow?: IoWindow }): Stream => ({ mibPerSecond: r.mibPerSecond, seconds: r.seconds, ...(r.ioWindow ? { ioWindow: r.ioWindow } : {}) });

/** `who`: a FUSE daemon's pid, undefined for this process (the shim), null for nothing (ext4 has no daemon). */
type MeasureFn = <T>(who: number | undefined | null, f: () => Promise<T>) => Promise<Measured<T>>;
type LogRound = (what: string) => (round: number, key: string) => void;
type SeqRate = { write: Stream; read: Stream };
const daemonOf = (m: MountedTarget) => m.daemonPid ?? null;

/**
 * Table 1: creates and deletes with many threads, then durable creates. Each
 * round creates its files in a directory of its own.
 */
async function table1(o: RunOptions, t: Targets, creates: string, res: FsBenchResults, measure: MeasureFn, logRound: LogRound): Promise<void> {
  const p = o.params;
  const cProgram = (dir: string, n: number, mode: string): Rate => {
    const out = JSON.parse(execFileSync(creates, [dir, String(p.createThreads), String(n), mode], { encoding: 'utf8' })) as { ops: number; seconds: number; avg_us: number };
    return { opsPerSecond: out.ops / out.seconds, medianUs: NaN, p99Us: NaN, avgUs: out.avg_us, seconds: out.seconds };
  };
  const withAvg = (r: LatencyResult): Rate => ({ ...rateOf(r), avgUs: r.meanUs });
  type Both = { creates: Measured<Rate>; deletes: Measured<Rate> };
  const both = await inRounds<TargetName, Both>(p.rounds, [
    ...t.mounted.map((m) => ({
      key: m.name,
      run: async (round: number) => {
        const dir = join(m.dir, 'table1', `r${round}`);
        mkdirSync(dir, { recursive: true });
        return {
          creates: await measure(daemonOf(m), async () => cProgram(dir, p.createsPerThread, 'create')),
          deletes: await measure(daemonOf(m), async () => cProgram(dir, p.createsPerThread, 'delete')),
        };
      },
    })),
    {
      key: 'dbos-shim',
      run: async (round: number) => {
        if (round === 0) await t.shim.mkdir('/shim/table1', 0o755);
        const dir = `/shim/table1/r${round}`;
        return {
          creates: await measure(undefined, async () => withAvg(await createDelete(t.shim, dir, p.createThreads, p.createsPerThread, 'create'))),
          deletes: await measure(undefined, async () => withAvg(await createDelete(t.shim, dir, p.createThreads, p.createsPerThread, 'delete'))),
        };
      },
    },
  ], logRound('table1'));
  const part = (which: keyof Both) => new Map([...both].map(([k, rs]) => [k, rs.map((r) => r[which])]));
  res.creates = perTarget(part('creates'), combineRates);
  res.deletes = perTarget(part('deletes'), combineRates);

  // Durable: ext4 must fsync the file and its directory; dbos commits each create, made durable by the server's setting.
  const before = (await o.db.rows<{ v: number }>('SELECT @@GLOBAL.innodb_flush_log_at_trx_commit AS v'))[0]!.v;
  const durably = async <T>(work: () => Promise<T>): Promise<T> => {
    await o.db.run('SET GLOBAL innodb_flush_log_at_trx_commit = 1');
    try {
      return await work();
    } finally {
      await o.db.run(`SET GLOBAL innodb_flush_log_at_trx_commit = ${Number(before)}`);
    }
  };
  const dbosHow = 'create, innodb_flush_log_at_trx_commit=1';
  const fsyncHow = 'create + fsync(file) + fsync(directory)';
  const durable = await inRounds<TargetName, Measured<Rate & { how: string }>>(p.rounds, [
    ...t.mounted.map((m) => ({
      key: m.name,
      run: async (round: number) => {
        const dir = join(m.dir, 'durable', `r${round}`);
        mkdirSync(dir, { recursive: true });
        if (m.name === 'dbos-fuse') return { ...await durably(() => measure(daemonOf(m), async () => cProgram(dir, p.durablePerThread, 'create'))), how: dbosHow };
        return { ...await measure(daemonOf(m), async () => cProgram(dir, p.durablePerThread, 'durable')), how: fsyncHow };
      },
    })),
    {
      key: 'dbos-shim',
      run: async (round: number) => {
        if (round === 0) await t.shim.mkdir('/shim/durable', 0o755);
        const dir = `/shim/durable/r${round}`;
        return { ...await durably(() => measure(undefined, async () => withAvg(await createDelete(t.shim, dir, p.createThreads, p.durablePerThread, 'create')))), how: dbosHow };
      },
    },
  ], logRound('table1 durable'));
  res.durableCreates = perTarget(durable, combineRates);

  // dbos through FUSE running ext4's own program under the server's usual
  // setting, where each fsync makes the creates before it durable (schema/durability.ts).
  const fuse = t.mounted.find((m) => m.name === 'dbos-fuse');
  if (!fuse) return;
  const fsynced = await inRounds<TargetName, Measured<Rate & { how: string }>>(p.rounds, [{
    key: 'dbos-fuse',
    run: async (round: number) => {
      const dir = join(fuse.dir, 'durable-fsync', `r${round}`);
      mkdirSync(dir, { recursive: true });
      return { ...await measure(daemonOf(fuse), async () => cProgram(dir, p.durablePerThread, 'durable')), how: `${fsyncHow}, innodb_flush_log_at_trx_commit=${Number(before)}` };
    },
  }], logRound('table1 durable fsync'));
  res.durableFsync = perTarget(fsynced, combineRates);
}
