// Table 2 of the DBOS paper: the total size per owner of the files of at least
// 20 KiB. The same tree is built on ext4 and on dbos; dbos answers with one SQL
// statement (the paper's, and the one over the File_size_class summary that
// `dbos fs usage` runs), ext4 with a walk over every inode (a small C program, and find).
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { constants as fsc } from 'node:fs';
import type { Db } from '../../schema/db.js';
import type { DbosFs } from '../dbosfs.js';
import { USAGE_SQL, usageByOwner } from '../sql/usage.js';
import { median } from './rounds.js';

export const MIN_SIZE = 20480;
export const OWNER_SQL = `SELECT f_owner, SUM(f_size) FROM Localized_file WHERE f_size >= ${MIN_SIZE} GROUP BY f_owner`;
export const FIND_PIPELINE = `find DIR -type f -size +${MIN_SIZE - 1}c -printf '%U %s\\n' | awk '{s[$1]+=$2} END {for (u in s) print u, s[u]}'`;
const OWNERS = [60001, 60002, 60003, 60004, 60005];
const PER_DIR = 1000;

/** File i of the tree: its directory, owner and size (one in ten is 20–64 KiB, the rest under 8 KiB). */
export function treeFile(i: number): { dir: string; name: string; uid: number; size: number } {
  const h = Math.imul(i + 1, 2654435761) >>> 0;
  const size = h % 10 === 0 ? MIN_SIZE + (h % 45056) : h % 8192;
  return { dir: `d${Math.floor(i / PER_DIR)}`, name: `f${i}`, uid: OWNERS[i % OWNERS.length]!, size };
}

const CONTENT = Buffer.alloc(65536, 0x61);

export function buildExt4Tree(root: string, files: number): void {
  for (let i = 0; i < files; i++) {
    const f = treeFile(i);
    const dir = `${root}/${f.dir}`;
    if (i % PER_DIR === 0) mkdirSync(dir, { recursive: true });
    const path = `${dir}/${f.name}`;
    writeFileSync(path, CONTENT.subarray(0, f.size));
    chownSync(path, f.uid, f.uid);
  }
}

/** Builds the tree through the shim with `clients` concurrent creators, each file owned by its uid. */
export async function buildDbosTree(fs: DbosFs, root: string, files: number, clients: number): Promise<void> {
  await fs.mkdir(root, 0o755);
  for (let d = 0; d * PER_DIR < files; d++) await fs.mkdir(`${root}/d${d}`, 0o777);
  let next = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    for (let i = next++; i < files; i = next++) {
      const f = treeFile(i);
      const caller = { uid: f.uid, gid: f.uid };
      const fd = await fs.create(`${root}/${f.dir}/${f.name}`, 0o644, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, caller);
      try {
        if (f.size > 0) await fs.write(fd, CONTENT.subarray(0, f.size), 0);
      } finally {
        await fs.release(fd);
      }
    }
  }));
}

/** The answer the tree should give, computed from its definition. */
export function expectedTotals(files: number): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < files; i++) {
    const f = treeFile(i);
    if (f.size >= MIN_SIZE) m.set(f.uid, (m.get(f.uid) ?? 0) + f.size);
  }
  return m;
}

export interface Timed {
  /** Median of the warm runs, milliseconds. */
  warmMs: number;
  /** The first run after the caches were emptied (InnoDB's buffer pool and the kernel's page cache). */
  coldMs: number;
  agrees: boolean;
}

const ms = (f: () => void) => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};
const parseTotals = (out: string) => new Map(out.trim().split('\n').filter(Boolean).map((l) => l.split(' ').map(Number) as [number, number]));
const same = (a: Map<number, number>, b: Map<number, number>) => a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

/** Times a shell scan of `dir`, cold (after `emptyCaches`) and warm. */
export async function timeScan(command: string[], expected: Map<number, number>, emptyCaches: () => Promise<void>, warmRuns = 3): Promise<Timed> {
  let out = '';
  await emptyCaches();
  const coldMs = ms(() => { out = execFileSync(command[0]!, command.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20 }); });
  const agrees = same(parseTotals(out), expected);
  const warm = Array.from({ length: warmRuns }, () => ms(() => execFileSync(command[0]!, command.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20 })));
  return { coldMs, warmMs: median(warm), agrees };
}

/** Times `query` (owner name → bytes), cold (after `emptyCaches`) and warm: the median of `warmRuns`. */
async function timeQuery(db: Db, expected: Map<number, number>, query: () => Promise<[string, number][]>, emptyCaches: () => Promise<void>, warmRuns = 5): Promise<Timed> {
  const users = new Map((await db.rows<{ user_name: string; uid: number }>('SELECT user_name, uid FROM User')).map((u) => [u.user_name, Number(u.uid)]));
  const timed = async () => {
    const t0 = performance.now();
    const rows = await query();
    return { rows, ms: performance.now() - t0 };
  };
  await emptyCaches();
  const cold = await timed();
  const times: number[] = [];
  for (let i = 0; i < warmRuns; i++) times.push((await timed()).ms);
  const rows = cold.rows;
  // Other experiments' files belong to root: compare the tree's owners only.
  const got = new Map(rows.map(([owner, bytes]) => [users.get(owner) ?? -1, bytes] as const).filter(([uid]) => OWNERS.includes(uid)));
  return { coldMs: cold.ms, warmMs: median(times), agrees: same(got, expected) };
}

/** The paper's statement: a range of the by_size index, one entry per qualifying file. */
export const timeSql = (db: Db, expected: Map<number, number>, emptyCaches: () => Promise<void>) =>
  timeQuery(db, expected, async () => (await db.rows(OWNER_SQL)).map((r) => [String(r.f_owner), Number(r['SUM(f_size)'])]), emptyCaches);

/** The same question from the File_size_class summary (what `dbos fs usage` runs). */
export const timeSummary = (db: Db, expected: Map<number, number>, emptyCaches: () => Promise<void>) =>
  timeQuery(db, expected, async () => (await usageByOwner(db, MIN_SIZE)).map((u) => [u.owner, u.bytes]), emptyCaches);

/** Lines of code of each way of answering: non-blank lines that are not only a comment. */
export function linesOfCode(cSource: string): { sql: number; summary: number; c: number; find: number } {
  const c = readFileSync(cSource, 'utf8').split('\n').filter((l) => l.trim() && !l.trim().startsWith('//')).length;
  return { sql: 1, summary: USAGE_SQL.split('\n').length, c, find: 1 };
}
