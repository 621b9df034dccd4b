// SQL for the Directory table: one row per name, (d_name, content) = (parent
// path, entry name), holding the entry's type, owner and POSIX attributes.
// Every statement is parameterized; prefixes are byte ranges, never LIKE, so
// "%", "_" and "\" in names are ordinary bytes.
import type { Db, Param, Queryable, Statement } from '../../schema/db.js';
import type { ContentType, DirEntry, Placement } from '../attrs.js';
import { keyOf, ofEntryNamed, ofFileNamed, SIZE_ROW } from '../../schema/ddl/fs.js';
import { tableOf } from './blocks.js';
import { splitPath } from '../paths.js';
import { compareTime, fromDecimal, toDecimal, type Timespec } from '../time.js';

/** A Directory row, with the file's size from its block −1 row. */
export interface Entry {
  path: string;
  /** The inode number (st_ino): the row's, kept through renames. */
  ino: number;
  type: ContentType;
  owner: string;
  perm: number;
  pKey: number;
  gid: number;
  nlink: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  rdev: number;
  target: string | null;
  placement: Placement;
  blockSize: number;
  /** f_size of a regular file (0 until its first write); unused for other types. */
  size: number;
  /** Whether it had extended attributes when its row was read; undefined where not read. */
  hasXattrs?: boolean;
}

/** What a new name needs; placement and block size default to the parent's. */
export type NewEntry = Pick<Entry, 'type' | 'owner' | 'perm' | 'pKey' | 'gid' | 'nlink'> & {
  time: Timespec;
  rdev?: number;
  target?: string | null;
  placement?: Placement | null;
  blockSize?: number | null;
};

const COLUMNS = `d.ino, d.content_type, d.user_name, d.protection_info, d.p_key, d.gid, d.nlink, d.atime, d.mtime, d.ctime,
  d.rdev, d.target, d.placement, d.block_size`;

interface EntryRow {
  ino: number;
  content_type: ContentType;
  user_name: string;
  protection_info: number;
  p_key: number;
  gid: number;
  nlink: number;
  atime: string;
  mtime: string;
  ctime: string;
  rdev: number;
  target: Buffer | null;
  placement: Placement;
  block_size: number;
  f_size?: number | null;
  has_xattrs?: number;
  [k: string]: unknown;
}

function toEntry(path: string, r: EntryRow): Entry {
  return {
    path,
    ino: Number(r.ino),
    type: r.content_type,
    owner: r.user_name,
    perm: Number(r.protection_info),
    pKey: Number(r.p_key),
    gid: Number(r.gid),
    nlink: Number(r.nlink),
    atime: fromDecimal(r.atime),
    mtime: fromDecimal(r.mtime),
    ctime: fromDecimal(r.ctime),
    rdev: Number(r.rdev),
    target: r.target === null ? null : r.target.toString('utf8'),
    placement: r.placement,
    blockSize: Number(r.block_size),
    size: Number(r.f_size ?? 0),
    hasXattrs: r.has_xattrs === undefined ? undefined : Number(r.has_xattrs) === 1,
  };
}

/** Statement slots for `n` rows: a power of two, so a connection prepares a handful of shapes, not one per count. */
const slotsFor = (n: number) => 2 ** Math.ceil(Math.log2(n));

/**
 * A derived table of `rows` rows of parameters, `columns` wide, for a
 * statement that handles many names at once: the first row names the columns.
 */
const parameterTable = (columns: readonly string[], rows: number) =>
  `(${[`SELECT ${columns.map((c) => `? AS ${c}`).join(', ')}`,
    ...Array<string>(rows - 1).fill(`SELECT ${columns.map(() => '?').join(', ')}`)].join(' UNION ALL ')})`;

/** Each path's parent and name, in turn: the parameters of a (d_name, content) per path. */
const parentsAndNames = (paths: string[]) => paths.flatMap((path) => { const { parent, name } = splitPath(path); return [parent, name]; });

/**
 * `(d.d_name, d.content) IN (…)` for the entries at `paths`, and its
 * parameters; padded to slotsFor() with repeats of the last name (harmless
 * in IN).
 */
function entriesIn(paths: string[]): { sql: string; params: string[] } {
  const params = parentsAndNames(paths);
  const slots = slotsFor(paths.length);
  for (let i = paths.length; i < slots; i++) params.push(params[params.length - 2], params[params.length - 1]);
  return { sql: `(d.d_name, d.content) IN (${Array(slots).fill('(?, ?)').join(', ')})`, params };
}

/**
 * The entries at `paths` (no path twice) found by their unique key, and its
 * parameters: a locking read through it locks those rows and the gap before
 * each in the key's hash order (see ofEntryNamed), not the gaps beside them in
 * the listing index, where creates insert. The full names guard against two
 * names with one key.
 */
function entriesByKey(paths: string[]): { sql: string; params: string[] } {
  return {
    sql: `d.e_key IN (${paths.map(() => keyOf('CONCAT(?, 0x00, ?)')).join(', ')}) AND d.path IN (${paths.map(() => '?').join(', ')})`,
    params: [...parentsAndNames(paths), ...paths],
  };
}

/**
 * LEFT JOIN of the rows (as `alias`) that belong to each entry d that is a
 * file of `placement` (and match `also`), found by the file's key. The index
 * is named: the optimizer, seeing a near-empty table, would otherwise scan it
 * for each entry.
 */
function fileRowsOf(placement: Placement, alias: string, also?: string): string {
  return `LEFT JOIN ${tableOf(placement)} ${alias} FORCE INDEX (PRIMARY)
            ON d.content_type = 'file' AND d.placement = '${placement}' AND ${ofFileNamed('d.path', alias)}${also ? ` AND ${also}` : ''}`;
}

/**
 * `rows`, each with its full name in `path`, found by the name asked for.
 * Matched by the bytes the name was sent as ('latin1' maps each byte to one
 * character): decoding the stored bytes would not give back a name whose
 * characters UTF-8 cannot carry (a lone surrogate is sent as U+FFFD).
 */
function byPath<R extends { path: Buffer }>(rows: R[]): (path: string) => R | undefined {
  const found = new Map(rows.map((r) => [r.path.toString('latin1'), r]));
  return (path) => found.get(Buffer.from(path).toString('latin1'));
}

/**
 * Entries by path, each joined with its size row and whether it has extended
 * attributes (cp -a and rsync -X list them for every file, and most have
 * none): one statement for all of them, null where there is no such name.
 * Lookups from many clients at once come here together (fs/batcher.ts): the
 * server's and mysql2's cost per statement is several times that of a row.
 */
export async function lookupMany(q: Queryable, paths: string[]): Promise<(Entry | null)[]> {
  if (paths.length === 0) return [];
  const these = entriesIn(paths);
  // The joins follow d.path (the generated full name), so one statement
  // serves every name; Xattr's index is named for the reason fileRowsOf gives.
  const rows = await q.rows<EntryRow & { path: Buffer }>(
    `SELECT d.path, ${COLUMNS}, COALESCE(l.f_size, p.f_size) AS f_size,
            EXISTS (SELECT 1 FROM Xattr x FORCE INDEX (by_name) WHERE x.f_name = d.path) AS has_xattrs
       FROM Directory d ${fileRowsOf('localized', 'l', `l.block_no = ${SIZE_ROW}`)} ${fileRowsOf('parallel', 'p', `p.block_no = ${SIZE_ROW}`)}
      WHERE ${these.sql}`,
    these.params);
  const find = byPath(rows);
  return paths.map((path) => {
    const r = find(path);
    return r ? toEntry(path, r) : null;
  });
}

/**
 * The committed ctime of each path, null where there is no such name: what
 * an open compares with the version its client holds (fs/content-stamps.ts).
 * Directory alone, with none of lookupMany's joins to the size row and Xattr:
 * measured alone, 8 connections, one name a statement, 60–74 µs of the
 * server's CPU against 180.
 */
export async function ctimesOf(q: Queryable, paths: string[]): Promise<(Timespec | null)[]> {
  if (paths.length === 0) return [];
  const these = entriesIn(paths);
  const rows = await q.rows<{ path: Buffer; ctime: string }>(`SELECT d.path, d.ctime FROM Directory d WHERE ${these.sql}`, these.params);
  const find = byPath(rows);
  return paths.map((path) => {
    const r = find(path);
    return r ? fromDecimal(r.ctime) : null;
  });
}

export async function lookup(q: Queryable, path: string): Promise<Entry | null> {
  return (await lookupMany(q, [path]))[0];
}

/** Like lookup, taking a shared lock on the row until the transaction ends. */
export async function lockEntry(q: Queryable, path: string, exclusive: boolean): Promise<Entry | null> {
  const { parent, name } = splitPath(path);
  // Through the unique key, not the listing index: see ofEntryNamed for what it locks.
  const rows = await q.rows<EntryRow>(
    `SELECT ${COLUMNS} FROM Directory d WHERE ${ofEntryNamed('?', '?', 'd')}
     ${exclusive ? 'FOR UPDATE' : 'LOCK IN SHARE MODE'}`,
    [parent, name, parent, name]);
  return rows[0] ? toEntry(path, rows[0]) : null;
}

export async function list(q: Queryable, dir: string): Promise<DirEntry[]> {
  const rows = await q.rows<{ content: Buffer; content_type: ContentType; ino: number }>(
    'SELECT content, content_type, ino FROM Directory WHERE d_name = ?', [dir]);
  return rows.map((r) => ({ name: r.content.toString('utf8'), type: r.content_type, ino: Number(r.ino) }));
}

export async function hasChildren(q: Queryable, dir: string): Promise<boolean> {
  const rows = await q.rows('SELECT 1 AS x FROM Directory WHERE d_name = ? LIMIT 1', [dir]);
  return rows.length > 0;
}

export interface Inserted {
  ino: number;
  placement: Placement;
  blockSize: number;
  gid: number;
  perm: number;
}

/** One new name as the INSERT reads it: the entry's values and its parent's key, in the derived table's column order. */
const NEW_ROW_FIELDS = ['d_name', 'content', 'content_type', 'user_name', 'perm', 'p_key', 'gid', 'nlink', 't',
  'rdev', 'target', 'placement', 'block_size', 'up_parent', 'up_name'] as const;
type NewRow = Record<(typeof NEW_ROW_FIELDS)[number], Param>;

function newRow(path: string, e: NewEntry): NewRow {
  const { parent, name } = splitPath(path);
  const grand = splitPath(parent);
  return {
    d_name: parent, content: name, content_type: e.type, user_name: e.owner, perm: e.perm, p_key: e.pKey, gid: e.gid,
    nlink: e.nlink, t: toDecimal(e.time), rdev: e.rdev ?? 0, target: e.target ?? null, placement: e.placement ?? null,
    block_size: e.blockSize ?? null, up_parent: grand.parent, up_name: grand.name,
  };
}

const SGID = 0o2000;

/** insertStatement's answers by row count (powers of two up to the batch limit). */
const INSERT_STATEMENTS = new Map<number, { sql: string; fields: (keyof NewRow)[] }>();

/**
 * The INSERT … SELECT for `rows` new names, and the order its parameters
 * take each row's values in. One name's values are parameters where they are
 * used; several names come as a derived table (the server then pays for one
 * statement, not one each), which costs more than parameters for one name.
 */
function insertStatement(rows: number): { sql: string; fields: (keyof NewRow)[] } {
  const built = INSERT_STATEMENTS.get(rows);
  if (built) return built;
  const fields: (keyof NewRow)[] = [];
  const v = rows === 1 ? (f: keyof NewRow) => { fields.push(f); return '?'; } : (f: keyof NewRow) => `v.${f}`;
  const select = `SELECT ${v('d_name')}, ${v('content')}, ${v('content_type')}, ${v('user_name')},
            ${v('perm')} | IF(${v('content_type')} = 'directory' AND up.protection_info & ${SGID}, ${SGID}, 0), ${v('p_key')},
            IF(up.protection_info & ${SGID}, up.gid, ${v('gid')}), ${v('nlink')}, ${v('t')}, ${v('t')}, ${v('t')}, ${v('rdev')},
            ${v('target')}, COALESCE(${v('placement')}, up.placement), COALESCE(${v('block_size')}, up.block_size)`;
  let from = 'Directory up';
  if (rows > 1) {
    fields.push(...NEW_ROW_FIELDS);
    from = `${parameterTable(NEW_ROW_FIELDS, rows)} v, Directory up`;
  }
  // The parent through its unique key, as lockEntry finds it (ofEntryNamed).
  // Through the listing index the share lock covered the gaps beside it,
  // where its siblings are inserted: a mkdir next to a stream of creates in
  // sibling directories then deadlocked on every retry.
  const [parent, name] = [v('up_parent'), v('up_name')];
  // ofEntryNamed writes each twice (in the key, then alone): as '?', each needs its parameter twice.
  if (rows === 1) fields.push('up_parent', 'up_name');
  const where = `${ofEntryNamed(parent, name, 'up')} AND up.content_type = 'directory'`;
  const sql = `INSERT INTO Directory (d_name, content, content_type, user_name, protection_info, p_key, gid, nlink,
                            atime, mtime, ctime, rdev, target, placement, block_size)
     ${select}
       FROM ${from}
      WHERE ${where}
      LOCK IN SHARE MODE
     RETURNING path, ino, placement, block_size, gid, protection_info`;
  INSERT_STATEMENTS.set(rows, { sql, fields });
  return { sql, fields };
}

/**
 * Creates names in one INSERT … SELECT that also checks, in the same
 * statement, that each parent exists and is a directory (locking its row
 * shared, so a concurrent rmdir or rename waits). A new entry inherits its
 * parent's placement and block size, and in a set-group-ID directory its
 * group (and, for a directory, the set-group-ID bit). Answers in order what
 * was stored for each, or null where the parent is missing or not a
 * directory. Throws ER_DUP_ENTRY, and stores none of them, if a name exists.
 */
export async function insertMany(q: Queryable, entries: { path: string; entry: NewEntry }[]): Promise<(Inserted | null)[]> {
  if (entries.length === 0) return [];
  const rows = entries.map(({ path, entry }) => newRow(path, entry));
  // Padded with rows whose parent is NULL, which match no parent.
  const slots = slotsFor(entries.length);
  const { sql, fields } = insertStatement(slots);
  const params: Param[] = rows.flatMap((r) => fields.map((f) => r[f]));
  params.push(...Array<null>((slots - rows.length) * fields.length).fill(null));
  const stored = await q.rows<{ path: Buffer; ino: number; placement: Placement; block_size: number; gid: number; protection_info: number }>(sql, params);
  const find = byPath(stored);
  return entries.map(({ path }) => {
    const r = find(path);
    return r ? { ino: Number(r.ino), placement: r.placement, blockSize: Number(r.block_size), gid: Number(r.gid), perm: Number(r.protection_info) } : null;
  });
}

export async function insert(q: Queryable, path: string, e: NewEntry): Promise<Inserted | null> {
  return (await insertMany(q, [{ path, entry: e }]))[0];
}

/** The root directory's row, created once. */
export async function insertRoot(q: Queryable, e: NewEntry): Promise<void> {
  const t = toDecimal(e.time);
  await q.run(
    `INSERT IGNORE INTO Directory (d_name, content, content_type, user_name, protection_info, p_key, gid, nlink,
                                   atime, mtime, ctime, rdev, target, placement, block_size)
     VALUES ('', '/', 'directory', ?, ?, ?, ?, 2, ?, ?, ?, 0, NULL, ?, ?)`,
    [e.owner, e.perm, e.pKey, e.gid, t, t, t, e.placement ?? 'localized', e.blockSize ?? null]);
}

export async function remove(q: Queryable, path: string): Promise<number> {
  const { parent, name } = splitPath(path);
  return q.run('DELETE FROM Directory WHERE d_name = ? AND content = ?', [parent, name]);
}

/**
 * Removes a name that is not a directory, with its blocks and xattrs, in one
 * transaction (the fs_unlink procedure). Returns the type removed, 'directory'
 * if the name is a directory (left alone), or null if there is no such name.
 */
export async function unlinkEntry(q: Queryable, path: string): Promise<ContentType | null> {
  const { parent, name } = splitPath(path);
  const rows = await q.call<{ content_type: ContentType | null }>('CALL fs_unlink(?, ?, ?)', [parent, name, path], { timeoutMs: 600_000 });
  return rows[0]?.content_type ?? null;
}

/**
 * unlinkEntry for many names at once (no name twice), in one transaction and
 * one round trip: the names' rows are locked first, then their xattrs are
 * removed, then the rows and the files' blocks in one statement. That
 * statement joins the blocks to the rows it removes, so each name is found
 * once, not once per table: measured through the shim (40 threads' 20,000
 * deletes), 91–93 µs of the server's CPU per name against 138–142 with a
 * statement per table. Xattrs stay a statement of their own: joined in too,
 * a file's blocks times its xattrs would be the rows to visit.
 */
export async function unlinkMany(db: Db, paths: string[]): Promise<(ContentType | null)[]> {
  const { sql: these, params } = entriesByKey(paths);
  const rows = await db.readThenChange<{ path: Buffer; content_type: ContentType }>(
    { sql: `SELECT d.path, d.content_type FROM Directory d WHERE ${these} FOR UPDATE`, params },
    [
      {
        sql: `DELETE x FROM Directory d STRAIGHT_JOIN Xattr x FORCE INDEX (attr) ON ${ofFileNamed('d.path', 'x')}
               WHERE ${these} AND d.content_type <> 'directory'`,
        params,
      },
      {
        sql: `DELETE d, l, p FROM Directory d ${fileRowsOf('localized', 'l')} ${fileRowsOf('parallel', 'p')}
               WHERE ${these} AND d.content_type <> 'directory'`,
        params,
      },
    ],
    { timeoutMs: 600_000 });
  const find = byPath(rows);
  return paths.map((path) => find(path)?.content_type ?? null);
}

/** Attributes setAttrs can change, named as in Entry. */
export type AttrChange = Partial<Pick<Entry, 'perm' | 'owner' | 'gid' | 'pKey' | 'atime' | 'mtime' | 'ctime' | 'placement' | 'blockSize'>>;

/** `e` as setAttrs(`c`) leaves its row. */
export function withAttrs(e: Entry, c: AttrChange): Entry {
  return { ...e, ...Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) };
}

/** Updates the given attributes of one entry; returns the rows matched (0 if it is gone). */
export async function setAttrs(q: Queryable, path: string, c: AttrChange): Promise<number> {
  const sets: string[] = [];
  const params: Param[] = [];
  const add = (column: string, value: Param) => { sets.push(`${column} = ?`); params.push(value); };
  if (c.perm !== undefined) add('protection_info', c.perm);
  if (c.owner !== undefined) add('user_name', c.owner);
  if (c.gid !== undefined) add('gid', c.gid);
  if (c.pKey !== undefined) add('p_key', c.pKey);
  if (c.atime !== undefined) add('atime', toDecimal(c.atime));
  if (c.mtime !== undefined) add('mtime', toDecimal(c.mtime));
  if (c.ctime !== undefined) add('ctime', toDecimal(c.ctime));
  if (c.placement !== undefined) add('placement', c.placement);
  if (c.blockSize !== undefined) add('block_size', c.blockSize);
  if (sets.length === 0) return 1;
  const { parent, name } = splitPath(path);
  return q.run(`UPDATE Directory SET ${sets.join(', ')} WHERE d_name = ? AND content = ?`, [...params, parent, name]);
}

/**
 * The statements with which a commit of a file's data sets its mtime and ctime
 * to `time`, and how to tell from the rows they matched whether the file's
 * ctime was still `expectedCtime`, that is, whether nobody changed the file
 * since. The first sets the times only if so; the second sets them otherwise
 * (when the first did, they are already set and it matches nothing). The
 * second runs right after the first in the same session, and its
 * `ROW_COUNT() = 0` (the first's count) is folded to a constant before it
 * reads anything: in the usual case, where the first matched, it costs no
 * index lookup.
 */
export function commitTimes(path: string, time: Timespec, expectedCtime: Timespec | undefined): { statements: Statement[]; onlyOurs(matched: number[]): boolean } {
  const { parent, name } = splitPath(path);
  const t = toDecimal(time);
  const set = 'UPDATE Directory SET mtime = ?, ctime = ? WHERE d_name = ? AND content = ?';
  const otherwise = { sql: `${set} AND NOT (mtime = ? AND ctime = ?)`, params: [t, t, parent, name, t, t] };
  if (expectedCtime === undefined) return { statements: [otherwise], onlyOurs: () => false };
  return {
    statements: [
      { sql: `${set} AND ctime = ?`, params: [t, t, parent, name, toDecimal(expectedCtime)] },
      { ...otherwise, sql: `${otherwise.sql} AND ROW_COUNT() = 0` },
    ],
    onlyOurs: (matched) => matched[0] > 0,
  };
}

/** The columns of a table of entries' new times: commitTimesMany, touchDirectories. */
const TIME_COLUMNS = ['parent', 'name', 't'] as const;

/**
 * commitTimes for several files whose commits share one transaction: first a
 * locking read of their ctimes (so the transaction takes their Directory rows
 * before their blocks, in key order), then one UPDATE that sets each file's
 * mtime and ctime to its own commit's time. Both find the rows by their
 * unique key, so they lock no gaps beside them where creates insert. onlyOurs
 * tells, from the read's rows, whether each file's ctime was exactly the one
 * expected.
 */
export function commitTimesMany(files: { path: string; time: Timespec; expectedCtime?: Timespec }[]): {
  read: Statement; statements: Statement[]; onlyOurs(rows: { path: Buffer; ctime: string }[]): boolean[];
} {
  const these = entriesByKey(files.map((f) => f.path));
  const values = files.map(({ path, time }) => {
    const { parent, name } = splitPath(path);
    return [parent, name, toDecimal(time)];
  });
  return {
    read: { sql: `SELECT d.path, d.ctime FROM Directory d WHERE ${these.sql} FOR UPDATE`, params: these.params },
    statements: [{
      sql: `UPDATE Directory d JOIN ${parameterTable(TIME_COLUMNS, files.length)} v
               ON ${ofEntryNamed('v.parent', 'v.name', 'd')}
               SET d.mtime = v.t, d.ctime = v.t`,
      params: values.flat(),
    }],
    onlyOurs: (rows) => {
      const find = byPath(rows);
      return files.map(({ path, expectedCtime }) => {
        const r = find(path);
        return expectedCtime !== undefined && r !== undefined && compareTime(fromDecimal(r.ctime), expectedCtime) === 0;
      });
    },
  };
}

/**
 * Moves a directory's times forward (never back) and adjusts its link count.
 * The time is cast: GREATEST of a DECIMAL and a string parameter compares
 * (and answers) doubles, which step by about 0.24 µs at today's times, so
 * the stored time was not the one this shim reported.
 */
export async function touchDirectory(q: Queryable, dir: string, time: Timespec | null, nlinkDelta = 0): Promise<number> {
  const { parent, name } = splitPath(dir);
  const t = time ? toDecimal(time) : null;
  return q.run(
    `UPDATE Directory SET mtime = GREATEST(mtime, COALESCE(CAST(? AS DECIMAL(20,9)), mtime)),
                          ctime = GREATEST(ctime, COALESCE(CAST(? AS DECIMAL(20,9)), ctime)),
                          nlink = nlink + ?
      WHERE d_name = ? AND content = ? AND content_type = 'directory'`,
    [t, t, nlinkDelta, parent, name]);
}

/**
 * touchDirectory for several directories (each once) in one statement, with
 * no change of link count: fsyncdirs from many clients at once, and the
 * coalesced times of many directories, cost one round trip instead of one
 * each. Like commitTimesMany, it finds each row by its unique key. Padded to
 * slotsFor() with repeats of the last directory: moving a time forward to
 * the same value again changes nothing.
 */
export async function touchDirectories(q: Queryable, dirs: { dir: string; time: Timespec }[]): Promise<number> {
  const values = dirs.map(({ dir, time }) => {
    const { parent, name } = splitPath(dir);
    return [parent, name, toDecimal(time)];
  });
  while (values.length < slotsFor(dirs.length)) values.push(values[values.length - 1]!);
  // Cast, as in touchDirectory, so that GREATEST compares decimals.
  return q.run(
    `UPDATE Directory d JOIN ${parameterTable(TIME_COLUMNS, values.length)} v
        ON ${ofEntryNamed('v.parent', 'v.name', 'd')}
        SET d.mtime = GREATEST(d.mtime, CAST(v.t AS DECIMAL(20,9))), d.ctime = GREATEST(d.ctime, CAST(v.t AS DECIMAL(20,9)))
      WHERE d.content_type = 'directory'`,
    values.flat());
}

/** Renames one entry (not its descendants). */
export async function move(q: Queryable, from: string, to: string, ctime: Timespec): Promise<number> {
  const a = splitPath(from);
  const b = splitPath(to);
  return q.run('UPDATE Directory SET d_name = ?, content = ?, ctime = ? WHERE d_name = ? AND content = ?',
    [b.parent, b.name, toDecimal(ctime), a.parent, a.name]);
}

/**
 * Rewrites d_name of every entry below directory `from` to lie below `to`.
 * The range [from + "/", from + "0") holds exactly the paths that start with
 * from + "/", because "0" is the byte after "/".
 */
export async function moveDescendants(q: Queryable, from: string, to: string): Promise<number> {
  return q.run(
    `UPDATE Directory SET d_name = CONCAT(?, SUBSTRING(d_name, ?))
      WHERE d_name = ? OR (d_name >= ? AND d_name < ?)`,
    [to, Buffer.byteLength(from) + 1, from, from + '/', from + '0'],
    { timeoutMs: 600_000 });
}
