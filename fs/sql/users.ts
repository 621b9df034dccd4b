// SQL for the User and Map tables: who owns files, their home partition, and
// the logical partitions themselves.
import type { Queryable } from '../../schema/db.js';

export interface UserRow {
  name: string;
  uid: number;
  homePartition: number;
  currentPath: string;
}

export async function all(q: Queryable): Promise<UserRow[]> {
  const rows = await q.rows<{ user_name: string; uid: number; home_partition: number; current_path: Buffer }>(
    'SELECT user_name, uid, home_partition, current_path FROM User');
  return rows.map((r) => ({ name: r.user_name, uid: Number(r.uid), homePartition: Number(r.home_partition), currentPath: r.current_path.toString('utf8') }));
}

/** Registers a user; returns false if the name or uid is taken already. */
export async function insert(q: Queryable, u: Omit<UserRow, 'currentPath'>): Promise<boolean> {
  return (await q.run('INSERT IGNORE INTO User (user_name, uid, home_partition, current_path) VALUES (?, ?, ?, ?)',
    [u.name, u.uid, u.homePartition, '/'])) === 1;
}

export async function setCurrentPath(q: Queryable, name: string, path: string): Promise<void> {
  await q.run('UPDATE User SET current_path = ? WHERE user_name = ?', [path, name]);
}

export async function partitions(q: Queryable): Promise<number> {
  const rows = await q.rows<{ n: number }>('SELECT COUNT(*) AS n FROM Map');
  return Number(rows[0]?.n ?? 0);
}
