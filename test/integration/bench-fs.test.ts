// dbos bench fs, at a tiny scale: every experiment runs on all five targets
// (ext4 image, bindfs, the null filesystem on dbos's binding, dbos through
// FUSE, dbos through the shim), in two rounds where the harness repeats cells,
// Table 2's three answers agree with the tree's definition, and the reports
// are written. It runs on a private server of its own: the harness empties
// the server's buffer pool before read phases and changes its commit setting
// for durable creates, which would reach every other test file's database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DAEMON_NODE_FLAGS } from '../../fs/fuse/daemon.js';
import { dbos } from '../helpers/cli.js';

const TARGETS = ['ext4', 'bindfs', 'fuse-null', 'dbos-fuse', 'dbos-shim'];
const ownServer = { DBOS_HOME: mkdtempSync('/tmp/dbos-bench-home-') };

beforeAll(() => {
  const up = dbos(['up', '--memory', '256M'], ownServer);
  expect(up.code, up.stderr).toBe(0);
});
afterAll(() => {
  dbos(['down'], ownServer);
  rmSync(ownServer.DBOS_HOME, { recursive: true, force: true });
});

describe('dbos bench fs', () => {
  it('runs every experiment on ext4, bindfs, fuse-null, dbos-fuse and dbos-shim and writes JSON, Markdown and charts', () => {
    const out = mkdtempSync('/tmp/dbos-bench-out-');
    const serverStarts = () => readFileSync(join(ownServer.DBOS_HOME, 'logs', 'mariadb.log'), 'utf8').split('ready for connections').length - 1;
    const startsBefore = serverStarts();
    try {
      const r = dbos(['bench', 'fs', '--clients', '2', '--files-per-client', '2', '--seconds', '0.5', '--rounds', '2', '--creates', '3', '--durable-creates', '3',
        '--analytics-files', '300', '--parallel-clients', '1,2', '--parallel-size', '256K', '--read-passes', '2', '--seq-size', '2M', '--out', out], ownServer);
      // An experiment that failed says why in the command's output ("<name> failed: …"): shown if the exit is not 0.
      const failures = r.stdout.split('\n').filter((l) => / failed: /.test(l)).join('\n');
      expect(r.code, `${r.stderr}${failures}`).toBe(0);
      type Rate = { opsPerSecond: number; roundsOpsPerSecond: number[]; peakRssBytes: number | null; innodbPagesRead: number | null };
      const { machine, parameters, results } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { machine: { nodeFlags: string[] }; parameters: Record<string, unknown>; results: Record<string, Record<string, unknown>> & {
        commands: string[];
        bufferPoolEmptied: boolean;
        daemons: Record<string, string[]>;
        table2: Record<'dbosSql' | 'dbosSummary' | 'ext4C' | 'ext4Find', { agrees: boolean; warmMs: number; coldMs: number }>;
      } };
      // The flags' counts are the ones run (durable creates have a flag of their own).
      expect([parameters.createsPerThread, parameters.durablePerThread]).toEqual([3, 3]);
      for (const experiment of ['fig10a', 'fig10b', 'creates', 'deletes', 'durableCreates']) {
        for (const target of TARGETS) {
          const cell = results[experiment]?.[target] as Rate | undefined;
          expect(cell?.opsPerSecond, `${experiment} ${target}`).toBeGreaterThan(0);
          // Two rounds, and the reported rate is the lower of the two (the lower middle one).
          expect(cell!.roundsOpsPerSecond, `${experiment} ${target}`).toHaveLength(2);
          expect(cell!.opsPerSecond).toBe(Math.min(...cell!.roundsOpsPerSecond));
        }
        // The FUSE daemons' memory is measured; ext4 has no daemon.
        expect((results[experiment]!['dbos-fuse'] as Rate).peakRssBytes).toBeGreaterThan(10 << 20);
        expect((results[experiment]!['fuse-null'] as Rate).peakRssBytes).toBeGreaterThan(10 << 20);
        expect((results[experiment]!.ext4 as Rate).peakRssBytes).toBeNull();
        // Whether dbos ran from its buffer pool is counted.
        expect((results[experiment]!['dbos-fuse'] as Rate).innodbPagesRead).toBeGreaterThanOrEqual(0);
      }
      // dbos through FUSE also runs ext4's durable program, fsyncs and all.
      const fsynced = (results.durableFsync as Record<string, Rate & { how: string }> | undefined)?.['dbos-fuse'];
      expect(fsynced?.roundsOpsPerSecond).toHaveLength(2);
      expect(fsynced!.opsPerSecond).toBeGreaterThan(0);
      expect(fsynced!.how).toMatch(/fsync\(file\) \+ fsync\(directory\), innodb_flush_log_at_trx_commit=2/);
      expect(readFileSync(join(out, 'results.md'), 'utf8')).toMatch(/\| dbos-fuse with fsync \| \d+ \|/);
      for (const target of TARGETS) {
        type Point = { mibPerSecond: number; roundsMibPerSecond: number[]; cpuBusy: number; innodbPagesRead: number | null };
        const rows = results.fig11![target] as { clients: number; write: Point; read: Point }[];
        expect(rows.map((q) => q.clients)).toEqual([1, 2]);
        for (const q of rows) {
          expect(Math.min(q.write.mibPerSecond, q.read.mibPerSecond)).toBeGreaterThan(0);
          // Figure 11 runs in rounds too, with how busy the machine was.
          expect([q.write.roundsMibPerSecond.length, q.read.roundsMibPerSecond.length]).toEqual([2, 2]);
          // (A tiny cell may pass between two of the kernel's 10 ms ticks: 0 then.)
          for (const busy of [q.write.cpuBusy, q.read.cpuBusy]) expect(busy >= 0 && busy <= 1, `${busy}`).toBe(true);
        }
        type Stream = { mibPerSecond: number; roundsMibPerSecond: number[] };
        const seq = results.seq![target] as { write: Stream; read: Stream; innodbPagesRead: number | null };
        expect(Math.min(seq.write.mibPerSecond, seq.read.mibPerSecond)).toBeGreaterThan(0);
        expect([seq.write.roundsMibPerSecond.length, seq.read.roundsMibPerSecond.length]).toEqual([2, 2]);
        // Reads start cold on dbos too: the buffer pool (256 MiB, far more
        // than these files) was emptied with the page cache, so InnoDB read them from disk.
        if (target.startsWith('dbos')) {
          // At least the file's 16 KiB pages, once a round (the count survives the restarts).
          expect(seq.innodbPagesRead, target).toBeGreaterThanOrEqual(2 * (2 << 20) / 16384);
          for (const q of rows) expect(q.read.innodbPagesRead, `${target} fig11 ${q.clients}`).toBeGreaterThan(0);
        }
      }
      // Figure 10 on the mounted targets opens a file per 20 blocks (10a) and per block (10b): the C loop, not fio,
      // run on each of the four mounted targets once a round, targets taking turns.
      for (const perOpen of ['20', '1']) {
        const runs = results.commands.filter((c) => / 2048 (\d+) 0\.5$/.exec(c)?.[1] === perOpen && c.includes('/randblocks '));
        const on = runs.map((c) => c.split(' ')[1]); // the target's directory
        expect(on).toHaveLength(8);
        expect(on.slice(4, 8)).toEqual([...on.slice(1, 4), on[0]]);
        expect(new Set(on.slice(0, 4)).size).toBe(4);
      }
      // Figure 11's readers read their files twice (fio's loops; each pass a new open), and the tables say so.
      const fig11Reads = results.commands.filter((c) => c.includes('--name=par') && c.includes('--rw=read'));
      expect(fig11Reads).toHaveLength(2 * 2 * 4); // client counts × rounds × mounted targets
      for (const c of fig11Reads) expect(c).toContain('--loops=2');
      expect([results.table2.dbosSql.agrees, results.table2.dbosSummary.agrees, results.table2.ext4C.agrees, results.table2.ext4Find.agrees]).toEqual([true, true, true, true]);
      for (const way of ['dbosSql', 'dbosSummary', 'ext4C', 'ext4Find'] as const) expect(results.table2[way].coldMs, way).toBeGreaterThan(0);
      const md = readFileSync(join(out, 'results.md'), 'utf8');
      // Started without them, the benchmark ran itself again under the daemon's
      // Node flags, so that the shim target (in its process) runs as dbos-fuse does.
      // fuse-null and the dbos daemon ran under them too, as their command lines show.
      for (const flag of DAEMON_NODE_FLAGS) {
        expect(machine.nodeFlags).toContain(flag);
        expect(md).toContain(flag);
        expect(results.daemons['fuse-null']).toContain(flag);
        expect(results.daemons['dbos-fuse']).toContain(flag);
      }
      expect(results.daemons['fuse-null']!.some((a) => a.endsWith('null-fs.js'))).toBe(true);
      expect(results.daemons['dbos-fuse']).toContain('--daemon-child');
      expect(results.daemons.bindfs![0]).toMatch(/bindfs$/);
      expect(md).toMatch(/## Targets/);
      expect(results.bufferPoolEmptied).toBe(true);
      // The server restarts (emptying the pool) only before reads from dbos: Figure 11 (two client counts) and
      // the sequential run, two rounds each on dbos-fuse and dbos-shim, and Table 2's two SQL timings. Before
      // every target's cold read, it was 34.
      expect(serverStarts() - startsBefore).toBe(2 * 2 * 2 + 2 * 2 + 2);
      expect(md).toMatch(/the page cache is emptied before every other read phase, and so, before dbos's, is MariaDB's buffer pool/);
      expect(md).toMatch(/Figure 10a: dbos-fuse ≥ 50% of bindfs \| \d+% \(rounds \d+%–\d+%\); the binding alone, fuse-null: \d+% \(rounds \d+%–\d+%\)/);
      // Each cell's rounds are in the tables, and how busy the machine was.
      expect(md).toMatch(/\n\| dbos-fuse \| \d+ \| \d+(\.\d)? \/ \d+(\.\d)? \|.* \| \d+% \| [\d.]+× /);
      expect(md).toMatch(/Figure 11 \(dbos-fuse\): throughput grows with clients until the machine saturates \(85% of all cores busy\) \| write MiB\/s \(machine busy\) \d+ \(\d+%\) → \d+ \(\d+%\): [^|]+; read MiB\/s/);
      expect(md).toMatch(/## Figure 11: clients streaming 0\.25 MiB each .*reading each file 2 time\(s\), MiB\/s \(machine busy while the I\/O ran\)/);
      expect(md).toMatch(/\| dbos: SQL over File_size_class \(dbos fs usage\) \| [\d.]+ \| [\d.]+ \| 7 \| yes \|/);
      for (const chart of ['fig10.svg', 'table1.svg', 'fig11-write.svg', 'seq.svg', 'table2.svg']) {
        expect(readFileSync(join(out, chart), 'utf8')).toMatch(/^<svg/);
      }
      // Nothing is left mounted.
      expect(readFileSync('/proc/mounts', 'utf8')).not.toMatch(/bench\/fs/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('refuses an unknown experiment in one plain sentence', () => {
    const r = dbos(['bench', 'fs', '--only', 'fig10a,fig99']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toMatch(/^dbos: --only takes fig10a, fig10b, table1, fig11, seq, table2 \(got "fig99"\)\.$/);
  });

  it('refuses an --ext4-dir that is missing or not on ext4 in one sentence, before anything is made', () => {
    const out = mkdtempSync('/tmp/dbos-bench-out-');
    rmSync(out, { recursive: true });
    try {
      for (const [dir, why] of [['/nonexistent-dir', 'is not a directory'], ['/proc', 'is on proc, not ext4']]) {
        const r = dbos(['bench', 'fs', '--ext4-dir', dir, '--only', 'table2', '--out', out]);
        expect(r.code).toBe(1);
        expect(r.stderr.trim()).toBe(`dbos: --ext4-dir: ${dir} ${why}.`);
        expect(existsSync(out)).toBe(false);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
