// SQL for the Xattr table: extended attributes, one row per (f_name, x_name).
import type { Queryable } from '../../schema/db.js';

export async function get(q: Queryable, path: string, name: string): Promise<Buffer | null> {
  const rows = await q.rows<{ x_value: Buffer }>('SELECT x_value FROM Xattr WHERE f_name = ? AND x_name = ?', [path, name]);
  return rows[0]?.x_value ?? null;
}

export async function list(q: Queryable, path: string): Promise<string[]> {
  const rows = await q.rows<{ x_name: Buffer }>('SELECT x_name FROM Xattr WHERE f_name = ? ORDER BY x_name', [path]);
  return rows.map((r) => r.x_name.toString('utf8'));
}

/** Plain INSERT: ER_DUP_ENTRY when the attribute exists (XATTR_CREATE). */
export async function insert(q: Queryable, path: string, name: string, value: Buffer): Promise<void> {
  await q.run('INSERT INTO Xattr (f_name, x_name, x_value) VALUES (?, ?, ?)', [path, name, value]);
}

/** Returns 0 when the attribute does not exist (XATTR_REPLACE). */
export async function replace(q: Queryable, path: string, name: string, value: Buffer): Promise<number> {
  const rows = await q.rows<{ n: number }>('SELECT COUNT(*) AS n FROM Xattr WHERE f_name = ? AND x_name = ? FOR UPDATE', [path, name]);
  if (!Number(rows[0]?.n)) return 0;
  await q.run('UPDATE Xattr SET x_value = ? WHERE f_name = ? AND x_name = ?', [value, path, name]);
  return 1;
}

export async function upsert(q: Queryable, path: string, name: string, value: Buffer): Promise<void> {
  await q.run('INSERT INTO Xattr (f_name, x_name, x_value) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE x_value = VALUES(x_value)',
    [path, name, value]);
}

export async function remove(q: Queryable, path: string, name: string): Promise<number> {
  return q.run('DELETE FROM Xattr WHERE f_name = ? AND x_name = ?', [path, name]);
}

export async function removeAll(q: Queryable, path: string): Promise<number> {
  return q.run('DELETE FROM Xattr WHERE f_name = ?', [path]);
}

export async function rename(q: Queryable, from: string, to: string): Promise<number> {
  return q.run('UPDATE Xattr SET f_name = ? WHERE f_name = ?', [to, from]);
}

/** Moves the attributes of everything below directory `from` to below `to`. */
export async function renameBelow(q: Queryable, from: string, to: string): Promise<number> {
  return q.run('UPDATE Xattr SET f_name = CONCAT(?, SUBSTRING(f_name, ?)) WHERE f_name >= ? AND f_name < ?',
    [to, Buffer.byteLength(from) + 1, from + '/', from + '0'], { timeoutMs: 600_000 });
}
