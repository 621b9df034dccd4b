// SQL for the file tables, Localized_file and Parallel_file. A file's bytes are
// rows (f_name, block_no, bytes); a hole is a missing row. Each file also has
// one row at block_no = -1 that carries its f_owner and f_size and no bytes, so
// the paper's analytics query counts every file exactly once:
//   SELECT f_owner, SUM(f_size) FROM Localized_file WHERE f_size >= 20480 GROUP BY f_owner
import type { Param, Queryable, Statement } from '../../schema/db.js';
import { ofFileNamed, SIZE_ROW } from '../../schema/ddl/fs.js';
import type { Placement } from '../attrs.js';

/** Largest multi-row INSERT we send, well under MariaDB's default 16 MiB packet. */
const MAX_STATEMENT_BYTES = 4 * 1024 * 1024;

const TABLE: Record<Placement, string> = { localized: 'Localized_file', parallel: 'Parallel_file' };

export function tableOf(p: Placement): string {
  return TABLE[p];
}

/**
 * The condition for a file's rows: its key, the table's clustered primary key
 * (schema version 8), finds them. Its parameters are ofFile(path).
 */
const FILE_ROWS = ofFileNamed('?');
const ofFile = (path: string) => [path, path];

/** Where a file's rows live: its table, and for localized files its partition. */
export interface FileLocation {
  path: string;
  placement: Placement;
  pKey: number;
  owner: string;
}

export interface Block {
  no: number;
  bytes: Buffer;
}

/** Blocks from..to (inclusive) that exist, in one range query. */
export async function readBlocks(q: Queryable, f: FileLocation, from: number, to: number): Promise<Block[]> {
  const rows = await q.rows<{ block_no: number; bytes: Buffer }>(
    `SELECT block_no, bytes FROM ${TABLE[f.placement]} WHERE ${FILE_ROWS} AND block_no BETWEEN ? AND ?`,
    [...ofFile(f.path), from, to], { timeoutMs: 30_000 });
  return rows.map((r) => ({ no: Number(r.block_no), bytes: r.bytes }));
}

/** What one file's commit writes: its blocks and its size. */
export interface FileWrite {
  f: FileLocation;
  blocks: Block[];
  size: number;
}

/**
 * The multi-row upserts that write blocks and the file's size row. Callers run
 * them in one transaction with the Directory time update (Db.atomically), so a
 * crash leaves either the old file or the new one.
 */
export function blockWrites(f: FileLocation, blocks: Block[], size: number): Statement[] {
  return blockWritesOf([{ f, blocks, size }]);
}

/** blockWrites of several files: one upsert per table, cut where a statement would pass MAX_STATEMENT_BYTES. */
export function blockWritesOf(files: FileWrite[]): Statement[] {
  const statements: Statement[] = [];
  for (const placement of ['localized', 'parallel'] as const) {
    const localized = placement === 'localized';
    const columns = localized ? '(f_name, f_owner, block_no, bytes, f_size, p_key)' : '(f_name, f_owner, block_no, bytes, f_size)';
    const row = localized ? '(?, ?, ?, ?, ?, ?)' : '(?, ?, ?, ?, ?)';
    let values: string[] = [];
    let params: Param[] = [];
    let bytes = 0;
    const cut = () => {
      statements.push({
        sql: `INSERT INTO ${TABLE[placement]} ${columns} VALUES ${values.join(', ')}
              ON DUPLICATE KEY UPDATE bytes = VALUES(bytes), f_size = VALUES(f_size)`,
        params,
      });
      values = [];
      params = [];
      bytes = 0;
    };
    for (const { f, blocks, size } of files.filter((w) => w.f.placement === placement)) {
      for (const b of blocks) {
        if (bytes + b.bytes.length > MAX_STATEMENT_BYTES && values.length > 0) cut();
        values.push(row);
        params.push(f.path, null, b.no, b.bytes, null);
        if (localized) params.push(f.pKey);
        bytes += b.bytes.length;
      }
      values.push(row);
      params.push(f.path, f.owner, SIZE_ROW, null, size);
      if (localized) params.push(f.pKey);
    }
    if (values.length > 0) cut();
  }
  return statements;
}

/** The statements that drop blocks at or past `size` and shorten the block that holds `size`. */
export function cutAt(f: FileLocation, size: number, blockSize: number): Statement[] {
  const table = TABLE[f.placement];
  const firstGone = Math.ceil(size / blockSize);
  const statements = [{ sql: `DELETE FROM ${table} WHERE ${FILE_ROWS} AND block_no >= ?`, params: [...ofFile(f.path), firstGone] }];
  const keep = size % blockSize;
  if (keep !== 0) {
    statements.push({
      sql: `UPDATE ${table} SET bytes = LEFT(bytes, ?) WHERE ${FILE_ROWS} AND block_no = ? AND LENGTH(bytes) > ?`,
      params: [keep, ...ofFile(f.path), firstGone - 1, keep],
    });
  }
  return statements;
}

export async function deleteFile(q: Queryable, f: { path: string; placement: Placement }): Promise<number> {
  return q.run(`DELETE FROM ${TABLE[f.placement]} WHERE ${FILE_ROWS}`, ofFile(f.path), { timeoutMs: 600_000 });
}

export async function renameFile(q: Queryable, placement: Placement, from: string, to: string): Promise<number> {
  return q.run(`UPDATE ${TABLE[placement]} SET f_name = ? WHERE ${FILE_ROWS}`, [to, ...ofFile(from)], { timeoutMs: 600_000 });
}

/** Moves every file below directory `from` to below `to`, in both tables. */
export async function renameBelow(q: Queryable, from: string, to: string): Promise<number> {
  let n = 0;
  for (const table of Object.values(TABLE)) {
    n += await q.run(
      `UPDATE ${table} SET f_name = CONCAT(?, SUBSTRING(f_name, ?)) WHERE f_name >= ? AND f_name < ?`,
      [to, Buffer.byteLength(from) + 1, from + '/', from + '0'], { timeoutMs: 600_000 });
  }
  return n;
}

/** chown: the size row names the owner; a localized file moves to the owner's partition. */
export async function changeOwner(q: Queryable, f: FileLocation): Promise<void> {
  const table = TABLE[f.placement];
  await q.run(`UPDATE ${table} SET f_owner = ? WHERE ${FILE_ROWS} AND block_no = ?`, [f.owner, ...ofFile(f.path), SIZE_ROW]);
  if (f.placement === 'localized') {
    await q.run(`UPDATE Localized_file SET p_key = ? WHERE ${FILE_ROWS} AND p_key <> ?`, [f.pKey, ...ofFile(f.path), f.pKey], { timeoutMs: 600_000 });
  }
}
