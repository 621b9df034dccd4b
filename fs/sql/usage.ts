// The paper's analytics question, how many bytes each owner has in files of at
// least some size, answered from File_size_class (schema version 6), which
// triggers keep in step with every file's size row. The classes that start at
// or above the threshold are summed whole; only when the threshold falls
// inside a class are that class's files read, from the by_size index. One
// statement, so one consistent snapshot of the summary and the files.
import type { Queryable } from '../../schema/db.js';

/** A type, not an interface, so that it is a plain record (cli/table.ts prints it as one). */
export type OwnerUsage = {
  owner: string;
  files: number;
  bytes: number;
};

/** The size class of `size` and where the next class starts (schema/ddl/fs.ts's sizeClassOf, in TypeScript). */
export function sizeClass(size: number): { start: number; end: number } {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`a size must be a whole number of bytes (got ${size})`);
  if (size < 8) return { start: size, end: size + 1 };
  const width = 2 ** (size.toString(2).length - 4);
  const start = Math.floor(size / width) * width;
  return { start, end: start + width };
}

/** Parameters: the threshold, then twice the range [threshold, end) of files read one by one. */
export const USAGE_SQL = `SELECT f_owner, SUM(files) AS files, SUM(total_bytes) AS bytes FROM (
  SELECT f_owner, files, total_bytes FROM File_size_class WHERE size_class >= ?
  UNION ALL
  SELECT COALESCE(f_owner, ''), 1, f_size FROM Localized_file FORCE INDEX (by_size) WHERE f_size >= ? AND f_size < ?
  UNION ALL
  SELECT COALESCE(f_owner, ''), 1, f_size FROM Parallel_file FORCE INDEX (by_size) WHERE f_size >= ? AND f_size < ?
) AS sized GROUP BY f_owner HAVING SUM(files) > 0 ORDER BY f_owner`;

/** Files of at least `minSize` bytes (at least 1: empty files hold no bytes and are not counted), per owner. */
export async function usageByOwner(q: Queryable, minSize: number): Promise<OwnerUsage[]> {
  if (!Number.isSafeInteger(minSize) || minSize < 1) throw new RangeError(`the smallest size counted must be at least 1 byte (got ${minSize})`);
  const c = sizeClass(minSize);
  // Files in [minSize, partEnd) sit in a class that starts below minSize.
  const partEnd = c.start === minSize ? minSize : c.end;
  const rows = await q.rows<{ f_owner: string; files: string | number; bytes: string | number }>(
    USAGE_SQL, [minSize, minSize, partEnd, minSize, partEnd]);
  return rows.map((r) => ({ owner: r.f_owner, files: Number(r.files), bytes: Number(r.bytes) }));
}
