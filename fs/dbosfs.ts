// The POSIX shim: the filesystem's semantics over the DBOS tables. It is the
// paper's client "stub": programs can use it directly as a library, and the
// FUSE adapter (fs/fuse/) only translates kernel requests into calls here.
// Paths are fully-qualified names from the filesystem root; every failure is
// an FsError with an errno code.
import { constants as fsc, statfsSync } from 'node:fs';
import type { Db } from '../schema/db.js';
import { isDuplicateKey, isUnavailable } from '../schema/db.js';
import { readMeta, requireCurrentSchema, DEFAULT_BLOCK_SIZE, MAX_BLOCK_SIZE } from '../schema/migrations.js';
import { fsyncIsDurable, makeCommitsDurable, readCommitDurability, type CommitDurability } from '../schema/durability.js';
import type { Logger } from '../schema/log.js';
import { AttrCache } from './attr-cache.js';
import { Batcher } from './batcher.js';
import { ContentStamps, sameVersion, stampOf, type ContentStamp } from './content-stamps.js';
import {
  contentTypeOf, typeBits, PERMISSION_BITS,
  type ContentType, type DirEntry, type Placement, type Stat, type StatFs,
} from './attrs.js';
import { DirTimes } from './dir-times.js';
import { FsError, fsError, toFsError } from './errors.js';
import { Identities } from './identity.js';
import { commitAlone, commitMany, DEFAULT_LIMITS, DirtyBudget, GROUP_TRIP_BYTES, MAX_FILE_SIZE, OpenFile, truncateCommitted, type Committer, type DataCommit, type WriteBackLimits } from './open-file.js';
import { isWithin, joinPath, normalizePath, PATH_MAX, rebase, splitPath } from './paths.js';
import {
  type Caller, mayChangeGroup, processCaller, requireAccess, requireMayRemove, requireOwner, R_OK, W_OK, X_OK,
} from './permissions.js';
import * as blocks from './sql/blocks.js';
import * as namespace from './sql/namespace.js';
import type { Entry } from './sql/namespace.js';
import * as users from './sql/users.js';
import * as xattrs from './sql/xattrs.js';
import { now, type Timespec } from './time.js';

export type { Caller } from './permissions.js';

export interface ShimOptions {
  /** How long looked-up attributes are reused (ms); 0 disables the cache. */
  attrTtlMs?: number;
  /** How long parent-directory time updates are coalesced (ms). */
  dirTimeDelayMs?: number;
  /** Check permissions in the shim (library use); the FUSE adapter leaves it to the kernel. */
  checkPermissions?: boolean;
  /** Who the library acts as, when a call does not say. */
  caller?: Caller;
  writeBack?: Partial<WriteBackLimits>;
  /** Flush files that have been dirty this long (ms). */
  maxDirtyAgeMs?: number;
  /** For statfs: the directory holding the database's data, if local. */
  dataDir?: string;
  logger?: Logger;
}

export type TimeArg = Timespec | 'now' | 'omit';

export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;
const XATTR_SIZE_MAX = 65536;
const UNCHANGED_ID = 0xffffffff;
const O_ACCMODE = 3;

/** Attributes with their own columns, readable and settable as xattrs. */
export const PLACEMENT_XATTR = 'user.dbos.placement';
export const BLOCK_SIZE_XATTR = 'user.dbos.block_size';
/**
 * File capabilities are not kept: the kernel reads this attribute before every
 * write, and the FUSE binding answers ENODATA for it without asking the shim.
 */
export const CAPABILITY_XATTR = 'security.capability';

/** A database error as the filesystem reports it where a name is created: a duplicate key is EEXIST. */
function existing(e: unknown, path: string): unknown {
  return isDuplicateKey(e) ? fsError('EEXIST', path) : e;
}

/** Names no file has and none may set: POSIX ACLs and file capabilities. */
function unsupportedXattr(name: string): boolean {
  return name.startsWith('system.') || name === CAPABILITY_XATTR;
}

interface Handle {
  file: OpenFile;
  flags: number;
  /** The client's cache of the file (the kernel's page cache) was current at this open. */
  cacheValid: boolean;
  /** A failed writeBehind's error, for the handle's next flush or fsync. */
  writeError?: FsError;
}

/** A name to create, as createEntry asks for it. */
interface NewName { path: string; entry: namespace.NewEntry }
/** What inserting one name gave: its stored values, null for a missing parent, or the error for it alone. */
type Inserting = { placed: namespace.Inserted | null } | { error: unknown };

/**
 * Statements that create or unlink names out at once; what arrives meanwhile
 * waits and goes together (measured: 40 threads' deletes through FUSE in
 * about 8 s instead of 14, and creates a little faster; see README).
 */
const NAMES_IN_FLIGHT = 2;

/** What committing one file's writes gave: whether nobody else had changed it, or the error for it alone. */
type Committed = { ours: boolean } | { error: unknown };

/**
 * Commits of files' writes out at once; what arrives meanwhile waits and goes
 * together, in one transaction (open-file.ts, commitMany). Only commits of up
 * to GROUP_COMMIT_BYTES join, and a transaction carries at most
 * GROUP_BYTES of blocks: with its statements' text it stays within what
 * commitMany sends as one multi-statement text round trip. Larger ones would go as
 * prepared statements, and each count of rows is a statement shape that
 * mysql2 caches on every connection: with 256 KiB commits in groups, the
 * daemon's peak RSS in the benchmark doubled (222 to 487 MiB in Figure 10a,
 * 779 to 1,120 over the run).
 */
const COMMITS_IN_FLIGHT = 2;
const GROUP_COMMIT_BYTES = 32 * 1024;
const GROUP_BYTES = GROUP_TRIP_BYTES - 16 * 1024;

const bytesOf = (c: DataCommit) => c.rows.reduce((n, r) => n + r.bytes.length, 0);

/**
 * `work` for each item, all at once except that items of one key go one
 * after another, in their order; each gets its own answer, or `failed` of
 * its own error.
 */
function eachInKeyOrder<T, R>(items: T[], keyOf: (item: T) => string, work: (item: T) => Promise<R>, failed: (e: unknown) => R): Promise<R[]> {
  const lastFor = new Map<string, Promise<unknown>>();
  return Promise.all(items.map((item) => {
    const answer = (lastFor.get(keyOf(item)) ?? Promise.resolve()).then(() => work(item)).catch(failed);
    lastFor.set(keyOf(item), answer);
    return answer;
  }));
}

/** Handles stay below bit 29: the FUSE binding reads bits 29 and 30 of the number it is given as flags. */
const MAX_HANDLE = 0x1fffffff;

export class DbosFs {
  private readonly cache: AttrCache;
  /** Rows read by path, many clients' lookups in one statement. */
  private readonly lookups = new Batcher<string, Entry | null>((paths) => namespace.lookupMany(this.db, paths));
  /** Committed ctimes, for the opens that check the version their client holds. */
  private readonly ctimes = new Batcher<string, Timespec | null>((paths) => namespace.ctimesOf(this.db, paths));
  /** Names (not directories) created by many clients at once, in one INSERT. */
  private readonly inserts = new Batcher<NewName, Inserting>((names) => this.insertTogether(names), { maxInFlight: NAMES_IN_FLIGHT });
  /** Names unlinked by many clients at once, in one transaction (a fresh object per request, as for inserts). */
  private readonly unlinks = new Batcher<{ path: string }, ContentType | null>((names) => this.unlinkTogether(names), { maxInFlight: NAMES_IN_FLIGHT });
  /** Small commits of different files at once, in one transaction. */
  private readonly commits = new Batcher<DataCommit, Committed>((cs) => this.commitTogether(cs), {
    maxBatch: 16, maxInFlight: COMMITS_IN_FLIGHT, weightOf: bytesOf, maxWeight: GROUP_BYTES,
  });
  /**
   * Redo-log syncs for fsync: callers that arrive while one is out wait and
   * share the next, which starts after their commits (group commit for fsync).
   */
  private readonly logSyncs = new Batcher<'log', void>(async () => [await this.syncRedoLog()], { maxInFlight: 1 });
  private readonly dirTimes: DirTimes;
  private readonly openFiles = new Map<string, OpenFile>();
  /** Versions of closed files' content as the client last saw them. */
  private readonly stamps = new ContentStamps();
  private readonly handles = new Map<number, Handle>();
  private readonly budget: DirtyBudget;
  private readonly flusher: NodeJS.Timeout;
  private nextFd = 1;
  private cwd = '/';
  private durability: CommitDurability = { setting: 2 };
  private warnedFlushLogs = false;
  private readonly caller: Caller;
  private readonly checkPermissions: boolean;

  private constructor(
    readonly db: Db,
    private readonly ids: Identities,
    readonly defaultBlockSize: number,
    private readonly opts: ShimOptions,
  ) {
    this.caller = opts.caller ?? processCaller();
    this.checkPermissions = opts.checkPermissions ?? true;
    this.cache = new AttrCache(opts.attrTtlMs ?? 1000);
    this.dirTimes = new DirTimes(
      db, opts.dirTimeDelayMs ?? 50, (e) => this.log('directory times not written yet', e), (dir, time) => this.cache.touchTimes(dir, time));
    this.budget = new DirtyBudget({ ...DEFAULT_LIMITS, ...opts.writeBack });
    const maxAge = opts.maxDirtyAgeMs ?? 2000;
    this.flusher = setInterval(() => void this.flushAged(maxAge), Math.min(1000, maxAge));
    this.flusher.unref();
  }

  /** Opens the filesystem stored in `db` (whose schema `dbos up` created). */
  static async open(db: Db, opts: ShimOptions = {}): Promise<DbosFs> {
    await requireCurrentSchema(db);
    const meta = await readMeta(db);
    const partitions = await users.partitions(db);
    const ids = new Identities(db, Math.max(1, partitions));
    await ids.reload();
    const fs = new DbosFs(db, ids, Number(meta.get('block_size') ?? DEFAULT_BLOCK_SIZE), opts);
    const owner = await ids.user(fs.caller.uid);
    await namespace.insertRoot(db, {
      type: 'directory', owner: owner.name, perm: 0o755, pKey: owner.homePartition, gid: fs.caller.gid,
      nlink: 2, time: now(), placement: 'localized', blockSize: fs.defaultBlockSize,
    });
    fs.durability = await readCommitDurability(db);
    if (!fsyncIsDurable(fs.durability)) {
      fs.log(`fsync cannot make commits durable: the server syncs its redo log about once a second (innodb_flush_log_at_trx_commit=${fs.durability.setting}) and dbos cannot sync that log here (a server elsewhere, or a log it may not open); set it to 1 on the server`);
    }
    fs.cwd = owner.currentPath || '/';
    return fs;
  }

  private log(msg: string, e?: unknown): void {
    this.opts.logger?.warn({ err: e instanceof Error ? e.message : e }, msg);
  }

  private path(p: string): string {
    return normalizePath(p, this.cwd);
  }

  /** Runs one operation and turns whatever it throws into an FsError. */
  private async op<T>(path: string | undefined, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      throw toFsError(e, path, (err) => this.opts.logger?.error({ err, path }, 'unexpected error'));
    }
  }

  // ---- lookups -------------------------------------------------------------

  private async entry(path: string): Promise<Entry> {
    return (await this.lookupEntry(path)).entry;
  }

  /** The entry, and whether this call read it from the database (rather than the cache). */
  private async lookupEntry(path: string): Promise<{ entry: Entry; fresh: boolean }> {
    const cached = this.cache.get(path);
    if (cached) return { entry: cached, fresh: false };
    for (let reads = 1; ; reads++) {
      const readAt = this.cache.snapshot();
      const e = await this.lookups.get(path);
      // A change to this path that committed while the row was being read is
      // newer than the row: read again, or stat would report (and the kernel
      // keep for a second) what the change replaced. rsync found this.
      if (reads < 3 && this.cache.changedSince(path, readAt)) continue;
      if (!e) throw fsError('ENOENT', path);
      return { entry: this.cache.set(e, readAt), fresh: true };
    }
  }

  private async maybeEntry(path: string): Promise<Entry | null> {
    try {
      return await this.entry(path);
    } catch (e) {
      if (e instanceof FsError && e.code === 'ENOENT') return null;
      throw e;
    }
  }

  private async owned(e: Entry): Promise<{ path: string; uid: number; gid: number; perm: number }> {
    return { path: e.path, uid: await this.ids.uidOf(e.owner), gid: e.gid, perm: e.perm };
  }

  /** The entry (`known`, or looked up), if `caller` may access it as `want` asks. */
  private async check(path: string, want: number, caller: Caller, known?: Entry): Promise<Entry> {
    const e = known ?? await this.entry(path);
    if (this.checkPermissions) requireAccess(await this.owned(e), caller, want);
    return e;
  }

  /** Why a create under `parent` found no parent directory. */
  private async missingParent(parent: string): Promise<FsError> {
    this.cache.drop(parent);
    const e = await this.lookups.get(parent);
    return fsError(e ? 'ENOTDIR' : 'ENOENT', parent);
  }

  private async toStat(e: Entry): Promise<Stat> {
    const open = e.type === 'file' ? this.openFiles.get(e.path) : undefined;
    await open?.applied();
    const size = e.type === 'file' ? (open ? open.size : e.size)
      : e.type === 'symlink' ? Buffer.byteLength(e.target ?? '')
        : e.type === 'directory' ? 4096 : 0;
    const pendingDir = e.type === 'directory' ? this.dirTimes.pendingFor(e.path) : undefined;
    const pending = open?.pendingMtime ?? pendingDir;
    return {
      ino: e.ino,
      mode: typeBits(e.type) | e.perm,
      uid: this.ids.cachedUidOf(e.owner) ?? await this.ids.uidOf(e.owner),
      gid: e.gid,
      size,
      nlink: e.nlink,
      rdev: e.rdev,
      blksize: e.type === 'file' ? Math.min(e.blockSize, 1 << 20) : 4096,
      blocks: Math.ceil(size / 512),
      atime: e.atime,
      mtime: pending ?? e.mtime,
      ctime: pending ?? e.ctime,
    };
  }

  // ---- metadata ------------------------------------------------------------

  /** lstat: the entry itself, symlinks not followed. */
  getattr(path: string): Promise<Stat> {
    return this.op(path, async () => this.toStat(await this.entry(this.path(path))));
  }

  /** stat: follows a final symlink (up to 40 hops). */
  stat(path: string): Promise<Stat> {
    return this.op(path, async () => this.toStat((await this.followLinks(this.path(path))).entry));
  }

  /** The entry a path names, symlinks followed; `fresh` as lookupEntry's. */
  private async followLinks(path: string): Promise<{ entry: Entry; fresh: boolean }> {
    for (let hops = 0; hops < 40; hops++) {
      const found = await this.lookupEntry(path);
      const e = found.entry;
      if (e.type !== 'symlink') return found;
      const target = e.target ?? '';
      path = normalizePath(target.startsWith('/') ? target : joinPath(splitPath(path).parent, target));
    }
    throw fsError('ELOOP', path);
  }

  readdir(path: string, caller = this.caller): Promise<DirEntry[]> {
    return this.op(path, async () => {
      const p = this.path(path);
      const e = await this.check(p, R_OK, caller);
      if (e.type !== 'directory') throw fsError('ENOTDIR', p);
      return namespace.list(this.db, p);
    });
  }

  access(path: string, mode: number, caller = this.caller): Promise<void> {
    return this.op(path, async () => {
      const e = await this.entry(this.path(path));
      if (mode !== fsc.F_OK) requireAccess(await this.owned(e), caller, mode & 7);
    });
  }

  chmod(path: string, mode: number, caller = this.caller): Promise<void> {
    return this.op(path, async () => {
      const p = this.path(path);
      const e = await this.entry(p);
      if (this.checkPermissions) requireOwner(await this.owned(e), caller);
      await this.setAttrs(p, { perm: mode & PERMISSION_BITS, ctime: now() });
    });
  }

  /** uid or gid of -1 (0xffffffff) leaves it unchanged, as chown(2). */
  chown(path: string, uid: number, gid: number, caller = this.caller): Promise<void> {
    return this.op(path, async () => {
      const p = this.path(path);
      const e = await this.entry(p);
      const keepUid = uid === -1 || uid === UNCHANGED_ID;
      const keepGid = gid === -1 || gid === UNCHANGED_ID;
      if (this.checkPermissions) {
        const o = await this.owned(e);
        if (!keepUid && uid !== o.uid && caller.uid !== 0) throw fsError('EPERM', p);
        if (!keepGid && gid !== o.gid && (caller.uid !== 0 && (caller.uid !== o.uid || !mayChangeGroup(caller, gid)))) throw fsError('EPERM', p);
      }
      const newOwner = keepUid ? undefined : await this.ids.user(uid);
      const owner = newOwner && newOwner.name !== e.owner ? newOwner : undefined;
      const t = now();
      const change = { gid: keepGid ? undefined : gid, ctime: t };
      if (!owner) {
        // Same owner (what cp -a and tar do as root): one UPDATE.
        await this.setAttrs(p, change);
        return;
      }
      // A new owner: a localized file's rows move to the owner's home partition.
      await this.withFile(p, async () => {
        await this.db.tx(async (tx) => {
          if (!await namespace.setAttrs(tx, p, { ...change, owner: owner.name, pKey: owner.homePartition })) throw fsError('ENOENT', p);
          if (e.type === 'file') {
            await blocks.changeOwner(tx, { path: p, placement: e.placement, pKey: owner.homePartition, owner: owner.name });
          }
        }, { timeoutMs: 600_000 });
        const open = this.openFiles.get(p);
        if (open) open.loc = { ...open.loc, owner: owner.name, pKey: owner.homePartition };
      });
      this.cache.drop(p);
    });
  }

  utimens(path: string, atime: TimeArg, mtime: TimeArg, caller = this.caller): Promise<void> {
    return this.op(path, async () => {
      const p = this.path(path);
      const e = await this.entry(p);
      if (this.checkPermissions) {
        const o = await this.owned(e);
        // Setting explicit times needs ownership; "now" needs write access.
        if (atime === 'now' && mtime === 'now') {
          if (caller.uid !== 0 && caller.uid !== o.uid) requireAccess(o, caller, W_OK);
        } else requireOwner(o, caller);
      }
      const t = now();
      const pick = (v: TimeArg) => (v === 'omit' ? undefined : v === 'now' ? t : v);
      // Pending writes carry older times: commit them first so they cannot
      // overwrite the times set here (cp -a sets them before it closes).
      await this.openFiles.get(p)?.flush();
      // Likewise a directory's pending touches from names created before now.
      await this.dirTimes.discard(p);
      await this.setAttrs(p, { atime: pick(atime), mtime: pick(mtime), ctime: t });
    });
  }

  /** Sets attributes of `p`'s own row; its cached row takes the same change. */
  private async setAttrs(p: string, change: namespace.AttrChange): Promise<void> {
    if (!await namespace.setAttrs(this.db, p, change)) throw fsError('ENOENT', p);
    this.cache.update(p, (e) => namespace.withAttrs(e, change));
  }

  statfs(path = '/'): Promise<StatFs> {
    return this.op(path, async () => {
      let total = 2 ** 50;
      let free = 2 ** 49;
      if (this.opts.dataDir) {
        try {
          const s = statfsSync(this.opts.dataDir);
          total = s.blocks * s.bsize;
          free = s.bavail * s.bsize;
        } catch {
          // keep the nominal numbers
        }
      }
      const rows = await this.db.rows<{ n: number }>(
        "SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'Directory'");
      const files = Number(rows[0]?.n ?? 0);
      const bsize = 4096;
      return {
        bsize, frsize: bsize, blocks: Math.floor(total / bsize), bfree: Math.floor(free / bsize), bavail: Math.floor(free / bsize),
        files: 2 ** 32 - 1, ffree: Math.max(0, 2 ** 32 - 1 - files), favail: Math.max(0, 2 ** 32 - 1 - files), namemax: 255,
      };
    });
  }

  // ---- creating and removing names ------------------------------------------

  /**
   * Inserts a new name with one statement (INSERT … SELECT checks the parent
   * in the same statement) and queues the parent's new times.
   */
  private async createEntry(p: string, type: Entry['type'], perm: number, caller: Caller, extra: { rdev?: number; target?: string } = {}): Promise<Entry> {
    if (p === '/') throw fsError('EEXIST', p);
    const { parent } = splitPath(p);
    if (this.checkPermissions) await this.check(parent, W_OK | X_OK, caller);
    const owner = await this.ids.user(caller.uid);
    const t = now();
    const nlink = type === 'directory' ? 2 : 1;
    const draft = { type, owner: owner.name, perm, pKey: owner.homePartition, gid: caller.gid, nlink, time: t, ...extra };
    // A directory's insert and its parent's link count commit together;
    // a file's parent only needs new times, which are coalesced.
    const placed = type === 'directory'
      ? await this.db.tx(async (tx) => {
        // The parent first, exclusively: the insert's shared lock on it would
        // otherwise be upgraded, and concurrent mkdirs in one directory deadlock.
        await namespace.lockEntry(tx, parent, true);
        const r = await namespace.insert(tx, p, draft).catch((e: unknown) => { throw existing(e, p); });
        if (r) await namespace.touchDirectory(tx, parent, t, +1);
        return r;
      })
      : await this.inserts.get({ path: p, entry: draft }).then((r) => { if ('error' in r) throw existing(r.error, p); return r.placed; });
    if (!placed) throw await this.missingParent(parent);
    if (type === 'directory') this.cache.drop(parent);
    else this.dirTimes.touch(parent, t);
    const entry: Entry = {
      path: p, ino: placed.ino, type, owner: owner.name, perm: placed.perm, pKey: owner.homePartition, gid: placed.gid, nlink,
      atime: t, mtime: t, ctime: t, rdev: extra.rdev ?? 0, target: extra.target ?? null,
      placement: placed.placement, blockSize: placed.blockSize, size: 0,
      hasXattrs: false, // a name's xattrs go with it when it is removed or renamed over
    };
    this.cache.set(entry);
    return entry;
  }

  /**
   * Inserts names asked for in one turn with one statement. If it fails (one
   * of the names exists, or two clients asked for the same name), nothing of
   * it was stored, and each name is inserted alone for its own answer:
   * different names at once, callers of one name in their order, so that the
   * first of them wins.
   */
  private async insertTogether(names: NewName[]): Promise<Inserting[]> {
    if (names.length > 1) {
      try {
        return (await namespace.insertMany(this.db, names)).map((placed) => ({ placed }));
      } catch (e) {
        if (isUnavailable(e)) throw e;
      }
    }
    return eachInKeyOrder(names, (n) => n.path,
      async ({ path, entry }): Promise<Inserting> => ({ placed: await namespace.insert(this.db, path, entry) }), (error) => ({ error }));
  }

  /** An open file's commit: a small one joins whatever others go with it, a large one goes alone. */
  private readonly commitData: Committer = async (c) => {
    if (bytesOf(c) > GROUP_COMMIT_BYTES) return commitAlone(this.db)(c);
    const r = await this.commits.get(c);
    if ('error' in r) throw r.error;
    return r.ours;
  };

  /**
   * Commits files' writes asked for in one turn in one transaction. If it
   * fails (other than a deadlock, which the Db layer retries), nothing of it
   * was stored, and each commits alone for its own answer. One goes alone
   * anyway: the shared transaction's shape costs more for one file. (A file's
   * commits come one at a time, under its lock; should one path still come
   * twice, its commits go alone, in order.)
   */
  private async commitTogether(cs: DataCommit[]): Promise<Committed[]> {
    if (cs.length > 1 && new Set(cs.map((c) => c.loc.path)).size === cs.length) {
      try {
        return (await commitMany(this.db, cs)).map((ours) => ({ ours }));
      } catch (e) {
        if (isUnavailable(e)) throw e;
      }
    }
    const alone = commitAlone(this.db);
    return eachInKeyOrder(cs, (c) => c.loc.path, async (c): Promise<Committed> => ({ ours: await alone(c) }), (error) => ({ error }));
  }

  /**
   * Unlinks names asked for in one turn: one alone by the fs_unlink
   * procedure (the cheaper statement), several in one transaction. A name
   * asked for twice is removed for its first caller and gone for the rest.
   */
  private async unlinkTogether(requests: { path: string }[]): Promise<(ContentType | null)[]> {
    if (requests.length === 1) return [await namespace.unlinkEntry(this.db, requests[0].path)];
    const paths = [...new Set(requests.map((r) => r.path))];
    const kinds = await namespace.unlinkMany(this.db, paths);
    const kindOf = new Map(paths.map((p, i) => [p, kinds[i]]));
    const answered = new Set<string>();
    return requests.map(({ path }) => {
      const kind = kindOf.get(path) ?? null;
      if (kind !== 'directory' && answered.has(path)) return null;
      answered.add(path);
      return kind;
    });
  }

  mkdir(path: string, mode: number, caller = this.caller): Promise<void> {
    return this.op(path, async () => { await this.createEntry(this.path(path), 'directory', mode & PERMISSION_BITS, caller); });
  }

  /** Regular files, FIFOs, sockets and device nodes (mode carries the type). */
  mknod(path: string, mode: number, rdev = 0, caller = this.caller): Promise<void> {
    return this.op(path, async () => {
      const type = contentTypeOf(mode);
      if (!type || type === 'directory' || type === 'symlink') throw fsError('EINVAL', path);
      if ((type === 'char' || type === 'block') && caller.uid !== 0 && this.checkPermissions) throw fsError('EPERM', path);
      await this.createEntry(this.path(path), type, mode & PERMISSION_BITS, caller, { rdev });
    });
  }

  symlink(target: string, path: string, caller = this.caller): Promise<void> {
    return this.op(path, async () => {
      if (target === '') throw fsError('ENOENT', path);
      if (Buffer.byteLength(target) >= PATH_MAX) throw fsError('ENAMETOOLONG', path);
      await this.createEntry(this.path(path), 'symlink', 0o777, caller, { target });
    });
  }

  readlink(path: string): Promise<string> {
    return this.op(path, async () => {
      const e = await this.entry(this.path(path));
      if (e.type !== 'symlink') throw fsError('EINVAL', e.path);
      return e.target ?? '';
    });
  }

  /**
   * Hard links are refused: a file's fully-qualified name is its identity in
   * Localized_file and Parallel_file, so one file cannot have two names.
   */
  link(_existing: string, newPath: string): Promise<void> {
    return this.op(newPath, async () => { throw fsError('EPERM', newPath, 'hard links are not supported'); });
  }

  unlink(path: string, caller = this.caller): Promise<void> {
    return this.op(path, async () => {
      const p = this.path(path);
      const { parent } = splitPath(p);
      if (this.checkPermissions) {
        const e = await this.entry(p);
        if (e.type === 'directory') throw fsError('EISDIR', p);
        requireMayRemove(await this.owned(await this.entry(parent)), await this.owned(e), caller);
      }
      await this.withFile(p, async () => {
        const removed = await this.unlinks.get({ path: p });
        if (removed === null) {
          this.cache.drop(p);
          throw fsError('ENOENT', p);
        }
        if (removed === 'directory') throw fsError('EISDIR', p);
        this.detach(p);
      });
      this.stamps.forget(p);
      this.dirTimes.touch(parent, now());
      this.cache.drop(p);
    });
  }

  rmdir(path: string, caller = this.caller): Promise<void> {
    return this.op(path, async () => {
      const p = this.path(path);
      if (p === '/') throw fsError('EBUSY', p);
      const e = await this.entry(p);
      if (e.type !== 'directory') throw fsError('ENOTDIR', p);
      const { parent } = splitPath(p);
      if (this.checkPermissions) requireMayRemove(await this.owned(await this.entry(parent)), await this.owned(e), caller);
      const t = now();
      await this.db.tx(async (tx) => {
        const locked = await namespace.lockEntry(tx, p, true);
        if (!locked) throw fsError('ENOENT', p);
        if (locked.type !== 'directory') throw fsError('ENOTDIR', p);
        if (await namespace.hasChildren(tx, p)) throw fsError('ENOTEMPTY', p);
        await namespace.remove(tx, p);
        await xattrs.removeAll(tx, p);
        await namespace.touchDirectory(tx, parent, t, -1);
      });
      this.dirTimes.forget(p);
      this.cache.dropBelow(p);
      this.cache.drop(parent);
    });
  }

  /**
   * rename(2) in one transaction: replaces a target as POSIX says, and moves a
   * directory's whole subtree by rewriting the prefix of every path below it
   * (cost: one row update per entry, block and xattr below it).
   */
  rename(from: string, to: string, flags = 0, caller = this.caller): Promise<void> {
    return this.op(from, async () => {
      const a = this.path(from);
      const b = this.path(to);
      if (flags & RENAME_EXCHANGE) throw fsError('EINVAL', a, 'RENAME_EXCHANGE is not supported');
      if (a === '/' || b === '/') throw fsError('EBUSY', a);
      const src = await this.entry(a);
      if (a === b) return;
      if (src.type === 'directory' && isWithin(b, a)) throw fsError('EINVAL', b, 'cannot move a directory into itself');
      const pa = splitPath(a).parent;
      const pb = splitPath(b).parent;
      if (this.checkPermissions) {
        const dst = await this.maybeEntry(b);
        requireMayRemove(await this.owned(await this.entry(pa)), await this.owned(src), caller);
        const dstParent = await this.owned(await this.entry(pb));
        if (dst) requireMayRemove(dstParent, await this.owned(dst), caller);
        else requireAccess(dstParent, caller, W_OK | X_OK);
      }
      const t = now();
      // Open files below the source (or at the target) must not flush under
      // their old names while the rows move.
      const affected = [...this.openFiles.values()].filter((f) => isWithin(f.path, a) || f.path === b);
      await this.lockAll(affected, async () => {
        await this.db.tx(async (tx) => {
          const s = await namespace.lockEntry(tx, a, true);
          if (!s) throw fsError('ENOENT', a);
          const dirB = await namespace.lockEntry(tx, pb, false);
          if (!dirB) throw fsError('ENOENT', pb);
          if (dirB.type !== 'directory') throw fsError('ENOTDIR', pb);
          const d = await namespace.lockEntry(tx, b, true);
          let nlinkB = 0;
          if (d) {
            if (flags & RENAME_NOREPLACE) throw fsError('EEXIST', b);
            if (s.type === 'directory' && d.type !== 'directory') throw fsError('ENOTDIR', b);
            if (s.type !== 'directory' && d.type === 'directory') throw fsError('EISDIR', b);
            if (d.type === 'directory') {
              if (await namespace.hasChildren(tx, b)) throw fsError('ENOTEMPTY', b);
              nlinkB -= 1;
            }
            await namespace.remove(tx, b);
            if (d.type === 'file') await blocks.deleteFile(tx, { path: b, placement: d.placement });
            await xattrs.removeAll(tx, b);
          }
          await namespace.move(tx, a, b, t);
          await xattrs.rename(tx, a, b);
          if (s.type === 'file') await blocks.renameFile(tx, s.placement, a, b);
          if (s.type === 'directory') {
            await namespace.moveDescendants(tx, a, b);
            await blocks.renameBelow(tx, a, b);
            await xattrs.renameBelow(tx, a, b);
            if (pa !== pb) {
              await namespace.touchDirectory(tx, pa, t, -1);
              nlinkB += 1;
            }
          }
          if (nlinkB !== 0) await namespace.touchDirectory(tx, pb, t, nlinkB);
        }, { timeoutMs: 600_000 });
        this.detach(b);
        for (const f of affected) if (isWithin(f.path, a)) this.rekey(f, rebase(f.path, a, b));
      });
      this.stamps.forget(a);
      this.stamps.forget(b);
      this.dirTimes.rename(a, b);
      this.dirTimes.touch(pa, t);
      this.dirTimes.touch(pb, t);
      this.cache.dropBelow(a);
      this.cache.dropBelow(b);
      this.cache.drop(pa);
      this.cache.drop(pb);
    });
  }

  private async lockAll(files: OpenFile[], work: () => Promise<void>): Promise<void> {
    const sorted = [...files].sort((x, y) => (x.path < y.path ? -1 : 1));
    const run = sorted.reduceRight<() => Promise<void>>((inner, f) => () => f.exclusive(inner), work);
    await run();
  }

  private async withFile<T>(path: string, work: () => Promise<T>): Promise<T> {
    const f = this.openFiles.get(path);
    return f ? f.exclusive(work) : work();
  }

  private rekey(f: OpenFile, to: string): void {
    this.openFiles.delete(f.path);
    f.loc = { ...f.loc, path: to };
    this.openFiles.set(to, f);
  }

  /** The name of an open file went away (library use: FUSE renames such files aside instead). */
  private detach(path: string): void {
    const f = this.openFiles.get(path);
    if (!f) return;
    f.unlinked = true;
    this.openFiles.delete(path);
  }

  // ---- file data -------------------------------------------------------------

  /**
   * A handle on `e`. `seen` is the committed version the client will hold
   * from this open on; `cacheValid` says its cache already holds it.
   */
  private register(e: Entry, flags: number, seen: ContentStamp | null = null, cacheValid = false): number {
    let f = this.openFiles.get(e.path);
    if (!f) {
      f = new OpenFile(this.db, { path: e.path, placement: e.placement, pKey: e.pKey, owner: e.owner }, e.blockSize, e.size, this.budget, now,
        (path, stamp) => stamp ? this.cache.update(path, (c) => ({ ...c, size: stamp.size, mtime: stamp.ctime, ctime: stamp.ctime })) : this.cache.drop(path),
        this.commitData);
      f.contentStamp = seen;
      this.openFiles.set(e.path, f);
    } else if (!cacheValid) {
      f.dropCache(); // close-to-open: this open sees what others committed before it
      f.contentStamp = seen;
    }
    f.refs++;
    const fd = this.nextFd;
    this.nextFd = this.nextFd >= MAX_HANDLE ? 1 : this.nextFd + 1;
    this.handles.set(fd, { file: f, flags, cacheValid });
    return fd;
  }

  /**
   * At open: whether the client's cache of the file still holds what is
   * committed now (the version it last saw against the committed ctime, read
   * afresh), and the version it will hold from now on. A file the client
   * holds no version of costs no query, nor does one whose row `e` this open
   * has just read from the database (`fresh`). Otherwise the committed ctime
   * alone decides (every change of content moves it), read by a statement
   * that costs the server a third of a lookup; only a changed file is then
   * looked up whole, for the version it holds now.
   */
  private async clientCache(e: Entry, fresh: boolean): Promise<{ seen: ContentStamp; valid: boolean }> {
    const open = this.openFiles.get(e.path);
    const held = open ? open.contentStamp : this.stamps.get(e.path);
    if (!held) return { seen: stampOf(e), valid: false };
    if (fresh) return { seen: stampOf(e), valid: sameVersion(held, e.ctime) };
    const ctime = await this.ctimes.get(e.path);
    if (ctime && sameVersion(held, ctime)) return { seen: held, valid: true };
    const row = await this.lookups.get(e.path);
    return { seen: stampOf(row ?? e), valid: false };
  }

  /**
   * True if the client's own cache of the file (under FUSE, the kernel's page
   * cache) was current when `fd` was opened, so it may keep it (keep_cache).
   */
  clientCacheValid(fd: number): boolean {
    return this.handle(fd).cacheValid;
  }

  private handle(fd: number): Handle {
    const h = this.handles.get(fd);
    if (!h) throw fsError('EBADF', String(fd));
    return h;
  }

  /** create(2): O_CREAT, with O_EXCL honoured. Returns a file handle. */
  create(path: string, mode: number, flags = fsc.O_CREAT | fsc.O_RDWR, caller = this.caller): Promise<number> {
    return this.op(path, async () => {
      const p = this.path(path);
      try {
        const e = await this.createEntry(p, 'file', mode & PERMISSION_BITS, caller);
        return this.register(e, flags, stampOf(e));
      } catch (err) {
        if (err instanceof FsError && err.code === 'EEXIST' && !(flags & fsc.O_EXCL)) return this.openPath(p, flags & ~fsc.O_CREAT, caller);
        throw err;
      }
    });
  }

  /** open(2) of an existing file. With the attributes cached, costs no round trip. */
  open(path: string, flags = fsc.O_RDONLY, mode = 0o666, caller = this.caller): Promise<number> {
    return this.op(path, async () => {
      const p = this.path(path);
      if (flags & fsc.O_CREAT) {
        const e = await this.maybeEntry(p);
        if (!e) return this.create(p, mode, flags, caller);
        if (flags & fsc.O_EXCL) throw fsError('EEXIST', p);
      }
      const found = await this.followLinks(p);
      return this.openPath(found.entry.path, flags, caller, found);
    });
  }

  /** Opens `p`; `found` is its entry if the caller just looked it up. */
  private async openPath(p: string, flags: number, caller: Caller, found?: { entry: Entry; fresh: boolean }): Promise<number> {
    const acc = flags & O_ACCMODE;
    const want = (acc === fsc.O_RDONLY ? R_OK : acc === fsc.O_WRONLY ? W_OK : R_OK | W_OK);
    const { entry, fresh } = found ?? await this.lookupEntry(p);
    const e = await this.check(p, want, caller, entry);
    if (e.type === 'directory') {
      if (acc !== fsc.O_RDONLY) throw fsError('EISDIR', p);
    } else if (e.type !== 'file') {
      throw fsError('EINVAL', p, `cannot open a ${e.type} here`);
    }
    const truncating = (flags & fsc.O_TRUNC) !== 0 && acc !== fsc.O_RDONLY && e.type === 'file';
    const cache = e.type === 'file' && !truncating ? await this.clientCache(e, fresh) : { seen: stampOf(e), valid: false };
    const fd = this.register(e, flags, cache.seen, cache.valid);
    if (truncating) {
      const f = this.handle(fd).file;
      if (f.size > 0) await f.truncate(0, now()); // its commit drops the cached row
    }
    return fd;
  }

  read(fd: number, length: number, position: number): Promise<Buffer> {
    return this.op(undefined, async () => this.readable(fd, position, length).file.read(position, length));
  }

  /** read(2) into `target` (the FUSE reply buffer): no buffer of its own. Returns the byte count. */
  readInto(fd: number, target: Buffer, position: number): Promise<number> {
    return this.op(undefined, async () => this.readable(fd, position, target.length).file.readInto(target, position));
  }

  private readable(fd: number, position: number, length: number): Handle {
    const h = this.handle(fd);
    if ((h.flags & O_ACCMODE) === fsc.O_WRONLY) throw fsError('EBADF', h.file.path);
    if (position < 0 || length < 0) throw fsError('EINVAL', h.file.path);
    return h;
  }

  write(fd: number, data: Buffer, position: number): Promise<number> {
    return this.writeTo(fd, data, position);
  }

  /**
   * write(2) whose caller has already been told it succeeded: the FUSE
   * binding answers writes before they reach the shim, as a page cache would.
   * Whatever is called after it sees its data. A failure is kept on the handle
   * and reported by its next flush or fsync, as a write-back error is.
   */
  writeBehind(fd: number, data: Buffer, position: number): Promise<void> {
    const h = this.handles.get(fd);
    const failed = (e: unknown) => {
      if (!h) return this.log('a write to a closed handle was lost', e);
      h.writeError ??= toFsError(e);
      // The client's cache took the write the shim could not: not to be kept at the next open.
      h.file.contentStamp = null;
    };
    return this.writeTo(fd, data, position, failed).then(() => undefined, failed);
  }

  /** `failed` hears of a failure before the file's lock passes to a flush queued behind the write. */
  private writeTo(fd: number, data: Buffer, position: number, failed?: (e: unknown) => void): Promise<number> {
    return this.op(undefined, async () => {
      const h = this.handle(fd);
      if ((h.flags & O_ACCMODE) === fsc.O_RDONLY) throw fsError('EBADF', h.file.path);
      if (position < 0) throw fsError('EINVAL', h.file.path);
      return h.file.write(data, h.flags & fsc.O_APPEND ? 'end' : position, failed);
    });
  }

  /** Commits the file's pending writes (close-to-open consistency). */
  flush(fd: number): Promise<void> {
    return this.op(undefined, async () => {
      const h = this.handle(fd);
      await h.file.flush();
      this.reportWriteError(h);
    });
  }

  /** Commits pending writes and makes them durable. */
  fsync(fd: number): Promise<void> {
    return this.op(undefined, async () => {
      await this.flush(fd);
      await this.syncDatabase();
    });
  }

  /** Throws, once, what a writeBehind on this handle failed with. */
  private reportWriteError(h: Handle): void {
    const e = h.writeError;
    h.writeError = undefined;
    if (e) throw e;
  }

  /** fsync of a directory: its pending times, durably. */
  fsyncdir(path: string): Promise<void> {
    return this.op(path, async () => {
      await this.dirTimes.flush(this.path(path));
      await this.syncDatabase();
    });
  }

  /** Writes everything pending from this shim and makes it durable (sync(2)). */
  sync(): Promise<void> {
    return this.op(undefined, async () => {
      await Promise.all([...this.openFiles.values()].map((f) => f.flush()));
      await this.dirTimes.flush();
      await this.syncDatabase();
    });
  }

  /** Puts this shim's commits on disk (schema/durability.ts says how). */
  private async syncDatabase(): Promise<void> {
    await this.logSyncs.get('log');
  }

  private syncRedoLog(): Promise<void> {
    return makeCommitsDurable(this.db, this.durability, (e) => {
      if (!this.warnedFlushLogs) this.log('FLUSH ENGINE LOGS failed; fsync relies on syncing the redo log, or the server commit setting', e);
      this.warnedFlushLogs = true;
      if (toFsError(e).code === 'EIO' && !(e as { code?: string }).code?.startsWith('ER_')) throw e;
    });
  }

  /**
   * close(2) of the last handle: commits pending writes. If that fails the
   * file stays in the open-file table (its size still visible, a reopen reuses
   * it) and the background flusher retries.
   */
  release(fd: number): Promise<void> {
    return this.op(undefined, async () => {
      const h = this.handle(fd);
      this.handles.delete(fd);
      const f = h.file;
      f.refs--;
      if (f.refs > 0) return;
      try {
        await f.flush();
      } finally {
        this.retireIfClean(f);
      }
    });
  }

  /** Forgets a closed file once nothing of it is pending. */
  private retireIfClean(f: OpenFile): void {
    if (f.refs > 0 || f.hasDirty) return;
    f.dropCache();
    if (this.openFiles.get(f.path) === f) {
      this.openFiles.delete(f.path);
      this.stamps.set(f.path, f.unlinked ? null : f.contentStamp);
    }
  }

  truncate(path: string, size: number, caller = this.caller): Promise<void> {
    return this.op(path, async () => {
      const p = this.path(path);
      if (size < 0) throw fsError('EINVAL', p);
      if (size > MAX_FILE_SIZE) throw fsError('EFBIG', p);
      const e = await this.check(p, W_OK, caller);
      if (e.type === 'directory') throw fsError('EISDIR', p);
      if (e.type !== 'file') throw fsError('EINVAL', p);
      const open = this.openFiles.get(p);
      if (open) await open.truncate(size, now());
      else await truncateCommitted(this.db, { path: p, placement: e.placement, pKey: e.pKey, owner: e.owner }, e.blockSize, e.size, size, now());
      this.stamps.forget(p);
      this.cache.drop(p);
    });
  }

  ftruncate(fd: number, size: number): Promise<void> {
    return this.op(undefined, async () => {
      const h = this.handle(fd);
      if ((h.flags & O_ACCMODE) === fsc.O_RDONLY) throw fsError('EBADF', h.file.path);
      await h.file.truncate(size, now()); // its commit drops the cached row
    });
  }

  /** Flushes files that have been dirty longer than `maxAgeMs` (and closed ones whose flush failed). */
  private async flushAged(maxAgeMs: number): Promise<void> {
    const cutoff = Date.now() - maxAgeMs;
    const due = [...this.openFiles.values()].filter((f) => f.dirtySince !== 0 && (f.dirtySince <= cutoff || f.refs === 0));
    for (const f of due) {
      try {
        await f.flush();
        this.retireIfClean(f);
      } catch (e) {
        this.log(`pending writes to ${f.path} not committed yet`, e);
      }
    }
  }

  // ---- extended attributes ----------------------------------------------------

  getxattr(path: string, name: string): Promise<Buffer> {
    return this.op(path, async () => {
      const p = this.path(path);
      const e = await this.entry(p);
      if (name === PLACEMENT_XATTR) return Buffer.from(e.placement);
      if (name === BLOCK_SIZE_XATTR) return Buffer.from(String(e.blockSize));
      if (name === CAPABILITY_XATTR) throw fsError('ENODATA', p);
      if (name.startsWith('system.')) throw fsError('EOPNOTSUPP', p);
      const v = e.hasXattrs === false ? null : await xattrs.get(this.db, p, name);
      if (!v) throw fsError('ENODATA', p);
      return v;
    });
  }

  listxattr(path: string): Promise<string[]> {
    return this.op(path, async () => {
      const p = this.path(path);
      const e = await this.entry(p);
      return e.hasXattrs === false ? [] : xattrs.list(this.db, p);
    });
  }

  setxattr(path: string, name: string, value: Buffer, flags = 0, caller = this.caller): Promise<void> {
    return this.op(path, async () => {
      const p = this.path(path);
      const e = await this.entry(p);
      if (Buffer.byteLength(name) > 255 || name === '') throw fsError('ERANGE', p);
      if (value.length > XATTR_SIZE_MAX) throw fsError('E2BIG', p);
      if (this.checkPermissions) requireOwner(await this.owned(e), caller);
      if (name === PLACEMENT_XATTR || name === BLOCK_SIZE_XATTR) {
        await this.setLayout(e, name === PLACEMENT_XATTR ? { placement: value.toString() } : { blockSize: value.toString() });
        return;
      }
      if (unsupportedXattr(name)) throw fsError('EOPNOTSUPP', p);
      try {
        if (flags & XATTR_CREATE) await xattrs.insert(this.db, p, name, value);
        else if (flags & XATTR_REPLACE) {
          if (!await this.db.tx((t) => xattrs.replace(t, p, name, value))) throw fsError('ENODATA', p);
        } else await xattrs.upsert(this.db, p, name, value);
      } catch (err) {
        throw existing(err, p);
      } finally {
        this.forgetXattrs(p);
      }
    });
  }

  removexattr(path: string, name: string, caller = this.caller): Promise<void> {
    return this.op(path, async () => {
      const p = this.path(path);
      const e = await this.entry(p);
      if (this.checkPermissions) requireOwner(await this.owned(e), caller);
      if (name === PLACEMENT_XATTR || name === BLOCK_SIZE_XATTR || unsupportedXattr(name)) throw fsError('EOPNOTSUPP', p);
      if (!await xattrs.remove(this.db, p, name)) throw fsError('ENODATA', p);
      this.forgetXattrs(p);
    });
  }

  /** After a change to `p`'s xattrs, whether it has any is not known until its row is read again. */
  private forgetXattrs(p: string): void {
    this.cache.update(p, (e) => ({ ...e, hasXattrs: undefined }));
  }

  /**
   * Placement and block size of a directory (inherited by what is created in
   * it from now on) or of a file that holds no data yet.
   */
  private async setLayout(e: Entry, change: { placement?: string; blockSize?: string }): Promise<void> {
    let placement: Placement | undefined;
    let blockSize: number | undefined;
    if (change.placement !== undefined) {
      if (change.placement !== 'localized' && change.placement !== 'parallel') throw fsError('EINVAL', e.path, 'placement is localized or parallel');
      placement = change.placement;
    }
    if (change.blockSize !== undefined) {
      const n = Number(change.blockSize);
      if (!Number.isInteger(n) || n < 512 || n > MAX_BLOCK_SIZE) throw fsError('EINVAL', e.path, `block size is 512..${MAX_BLOCK_SIZE} bytes`);
      blockSize = n;
    }
    if (e.type === 'file') {
      const open = this.openFiles.get(e.path);
      if (e.size > 0 || (open && (open.size > 0 || open.hasDirty))) throw fsError('EBUSY', e.path, 'a file with data keeps its layout');
      if (open) throw fsError('EBUSY', e.path, 'close the file first');
    } else if (e.type !== 'directory') {
      throw fsError('EINVAL', e.path);
    }
    await namespace.setAttrs(this.db, e.path, { placement, blockSize });
    this.cache.drop(e.path);
  }

  /** Marks a directory (and what is created below it from now on) localized or parallel. */
  setPlacement(path: string, placement: Placement): Promise<void> {
    return this.op(path, async () => this.setLayout(await this.entry(this.path(path)), { placement }));
  }

  setBlockSize(path: string, blockSize: number): Promise<void> {
    return this.op(path, async () => this.setLayout(await this.entry(this.path(path)), { blockSize: String(blockSize) }));
  }

  // ---- the paper's current_path --------------------------------------------------

  /** chdir for library use: relative paths resolve against User.current_path. */
  chdir(path: string, caller = this.caller): Promise<void> {
    return this.op(path, async () => {
      const p = this.path(path);
      const e = await this.check(p, X_OK, caller);
      if (e.type !== 'directory') throw fsError('ENOTDIR', p);
      await users.setCurrentPath(this.db, (await this.ids.user(caller.uid)).name, p);
      this.cwd = p;
    });
  }

  getcwd(): string {
    return this.cwd;
  }

  // ---- convenience for library users ------------------------------------------------

  async readFile(path: string): Promise<Buffer> {
    const fd = await this.open(path, fsc.O_RDONLY);
    try {
      const size = (await this.stat(path)).size;
      return await this.read(fd, size, 0);
    } finally {
      await this.release(fd);
    }
  }

  async writeFile(path: string, data: Buffer | string, mode = 0o644): Promise<void> {
    const fd = await this.open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC, mode);
    try {
      await this.write(fd, Buffer.from(data), 0);
    } finally {
      await this.release(fd);
    }
  }

  /** Commits everything pending and stops background work. The Db stays open. */
  async close(): Promise<void> {
    clearInterval(this.flusher);
    this.dirTimes.stop();
    const pending = [...this.openFiles.values()];
    const results = await Promise.allSettled(pending.map((f) => f.flush()));
    await this.dirTimes.flush();
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) throw toFsError(failed.reason);
  }

  /** What is open, dirty and cached, for logs and tests. */
  stats(): { openFiles: number; handles: number; dirtyBytes: number; cachedBytes: number; fetchedBytes: number } {
    const b = this.budget;
    return { openFiles: this.openFiles.size, handles: this.handles.size, dirtyBytes: b.bytes, cachedBytes: b.cachedBytes, fetchedBytes: b.fetchedBytes };
  }
}
