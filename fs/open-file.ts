// One open regular file: its location in the file tables, its size, and a
// write-back buffer of dirty blocks shared by every handle on it in this
// process. Writes land in the buffer; flush() commits the dirty blocks, the
// size row and the new mtime/ctime in one transaction (which the shim may
// share with other files' small commits: commitMany). The shim flushes on
// close (close-to-open consistency, as NFS), on fsync, when the buffer passes
// its limit, and when it has been dirty for a while.
// Committed blocks read or written here are kept while the file is open, and
// forgotten at an open that finds another client changed the file, so that an
// open sees what others closed before it; a sequential reader's next blocks
// are fetched while it reads.
import type { Db, Statement } from '../schema/db.js';
import { fsError } from './errors.js';
import { Mutex } from './mutex.js';
import * as blocks from './sql/blocks.js';
import type { ContentStamp } from './content-stamps.js';
import * as namespace from './sql/namespace.js';
import type { Timespec } from './time.js';

/** ext4's limit with 4 KiB blocks. */
export const MAX_FILE_SIZE = 2 ** 44;

export interface WriteBackLimits {
  /** Flush a file once it holds this many dirty bytes. */
  perFileBytes: number;
  /** Flush the writing file when all files together hold this many. */
  totalBytes: number;
  /** Committed blocks kept per open file, and over all of them. */
  cachePerFileBytes: number;
  cacheTotalBytes: number;
}

export const DEFAULT_LIMITS: WriteBackLimits = {
  perFileBytes: 16 << 20, totalBytes: 256 << 20, cachePerFileBytes: 32 << 20, cacheTotalBytes: 128 << 20,
};

/** Dirty and cached bytes across all open files, to bound the daemon's memory. */
export class DirtyBudget {
  bytes = 0;
  cachedBytes = 0;
  /** Bytes of the block queries in flight: the cache room they will take when they arrive. */
  fetchingBytes = 0;
  /** Block bytes read from the database so far (a counter, for tests and benchmarks). */
  fetchedBytes = 0;
  constructor(readonly limits: WriteBackLimits) {}
}

/**
 * The most a sequential reader fetches ahead: sixteen 1 MiB queries in
 * flight. From a cold buffer pool, one query reads about 7,000 pages a second
 * here whatever its size, so the stream's speed grows with the queries in
 * flight (measured at the SQL level: 75 MiB/s with one, 250-300 with sixteen).
 */
const MAX_READAHEAD = 16 << 20;

/**
 * A range larger than this goes as several queries at once. InnoDB reads a
 * blob's pages one at a time within a query, so from disk a single query is
 * one read in flight; pieces on separate connections keep several.
 */
const FETCH_PIECE_BYTES = 1 << 20;

/**
 * A file this small is fetched whole at its second miss in the cache: random
 * reads and writes in it would otherwise cost a query per block. Not at the
 * first, because a reader of one block (an open, one read, a close) would pay
 * for the whole file.
 */
const WHOLE_FILE_BYTES = 1 << 20;

/** A range query in flight; `generation` is the file's when it was sent. */
interface Fetch {
  from: number;
  to: number;
  generation: number;
  blocks: Promise<Map<number, Buffer>>;
}

interface DirtyBlock {
  data: Buffer;  // capacity, zero-filled beyond len
  len: number;   // bytes from the block's start that are meaningful
}

export class OpenFile {
  refs = 0;
  /** Set when the name was removed while open (library use); writes are then dropped. */
  unlinked = false;
  /**
   * The committed version of the content the shim's client may hold (see
   * content-stamps.ts): set at open, moved by each commit of this file's
   * writes when nobody else changed the file meanwhile, null when unknown.
   */
  contentStamp: ContentStamp | null = null;
  /** When the buffer first became dirty (ms), for the background flusher. */
  dirtySince = 0;
  private dirty = new Map<number, DirtyBlock>();
  private dirtyBytes = 0;
  /** Committed blocks, least recently used first. */
  private cached = new Map<number, Buffer>();
  private cachedBytes = 0;
  private fetchingBytes = 0;
  /** Bumped by every change, so that a read that raced one does not cache what it fetched. */
  private generation = 0;
  /** Where the last read ended (furthest, while reading sequentially). */
  private readEnd = 0;
  private readahead = 0;
  /** The last block the sequential reader's prefetches asked for, in generation `aheadGeneration`. */
  private aheadTo = -1;
  private aheadGeneration = -1;
  private readonly fetches = new Set<Fetch>();
  /** Queries sent for blocks not in the cache since the cache was last dropped. */
  private misses = 0;
  private pendingTime: Timespec | null = null;
  private dbSize: number;
  private readonly lock = new Mutex();
  /** Writes called and not yet applied: they wait for the lock, behind a flush perhaps. */
  private unapplied = 0;

  constructor(
    private readonly db: Db,
    public loc: blocks.FileLocation,
    readonly blockSize: number,
    public size: number,
    private readonly budget: DirtyBudget,
    private readonly clock: () => Timespec,
    /**
     * Told after each commit of this file's data, size or times, with the
     * file's new version if nobody else changed the file since this client
     * saw it (its row then holds that size, and mtime = ctime); null: rows
     * cached elsewhere are stale, read again.
     */
    private readonly onCommit: (path: string, stamp: ContentStamp | null) => void = () => undefined,
    /** How this file's buffered writes commit: alone, or with other files' (DbosFs). */
    private readonly commit: Committer = commitAlone(db),
  ) {
    this.dbSize = size;
  }

  get path(): string {
    return this.loc.path;
  }

  /** mtime (= ctime) of writes not yet committed, if any. */
  get pendingMtime(): Timespec | null {
    return this.pendingTime;
  }

  get hasDirty(): boolean {
    return this.dirty.size > 0 || this.pendingTime !== null;
  }

  /** Serializes work that must not interleave with writes or flushes (rename, truncate). */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.lock.run(work);
  }

  /**
   * Resolves once every write called before it is applied. A caller need not
   * wait for its write (the FUSE binding answers writes first): whatever is
   * asked afterwards must still see them.
   */
  async applied(): Promise<void> {
    if (this.unapplied > 0) await this.lock.run(async () => undefined);
  }

  async read(pos: number, len: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(Math.max(0, Math.min(len, this.size - pos)));
    return out.subarray(0, await this.readInto(out, pos));
  }

  /** Reads into `target` (as much as it holds) from `pos`; returns the byte count. */
  async readInto(target: Buffer, pos: number): Promise<number> {
    await this.applied();
    const size = this.size;
    const len = target.length;
    if (pos >= size || len <= 0) return 0;
    const end = Math.min(pos + len, size);
    const bs = this.blockSize;
    const first = Math.floor(pos / bs);
    const last = Math.floor((end - 1) / bs);
    const sources = new Map<number, Buffer>();
    const missing: number[] = [];
    for (let b = first; b <= last; b++) {
      const d = this.dirty.get(b);
      const c = d ? undefined : this.cachedBlock(b);
      if (d) sources.set(b, d.data.subarray(0, d.len));
      else if (c) sources.set(b, c);
      else if (b * bs < this.dbSize) missing.push(b);
    }
    // The kernel reads ahead with several requests in flight, which may arrive
    // out of order: a read that starts at or just behind the furthest end so far is sequential.
    const sequential = pos <= this.readEnd && pos >= this.readEnd - Math.max(2 * len, this.readahead);
    this.readEnd = sequential ? Math.max(this.readEnd, end) : end;
    this.readahead = sequential ? Math.min(this.readaheadLimit(), Math.max(2 * len, 2 * this.readahead)) : 0;
    const ahead = sequential ? Math.min(this.lastCommitted, last + Math.ceil(this.readahead / bs)) : last;
    const fetching = this.committed(missing, ahead);
    if (sequential) this.prefetch(last + 1, ahead);
    else this.aheadTo = -1;
    for (const [b, bytes] of await fetching) sources.set(b, bytes);
    // In block order, zero-filling only what no block covers (holes, and the
    // tails of blocks shorter than the block size): FUSE hands over a buffer
    // that held an earlier reply, and clearing all of it costs a cold read 2%.
    let filled = 0;
    for (let b = first; b <= last; b++) {
      const src = sources.get(b);
      if (!src) continue;
      const start = b * bs;
      const from = Math.max(pos, start) - pos;
      const to = Math.min(end, start + src.length) - pos;
      if (to <= from) continue;
      if (from > filled) target.fill(0, filled, from);
      src.copy(target, from, from + pos - start, to + pos - start);
      filled = to;
    }
    if (filled < end - pos) target.fill(0, filled, end - pos);
    // A sequential reader does not come back for what it has read (through
    // FUSE the kernel's page cache keeps it): its cache room is for the blocks ahead.
    if (sequential) for (let b = first; (b + 1) * bs <= end; b++) this.forget(b);
    return end - pos;
  }

  /**
   * How far ahead a sequential reader may fetch: half of the cache room left
   * to this file, so that readers at once share the cache rather than evict
   * blocks fetched for each other before they are read.
   */
  private readaheadLimit(): number {
    const { cachePerFileBytes, cacheTotalBytes } = this.budget.limits;
    // Other files' queries in flight count as taken: their blocks are on the way.
    const others = this.budget.cachedBytes + this.budget.fetchingBytes - this.cachedBytes - this.fetchingBytes;
    const room = Math.min(cachePerFileBytes, cacheTotalBytes - others);
    return Math.min(MAX_READAHEAD, Math.floor(room / 2));
  }

  private get lastCommitted(): number {
    return Math.ceil(this.dbSize / this.blockSize) - 1;
  }

  /**
   * The committed bytes of `blocks` (none dirty or cached; a hole has no
   * entry): waits for the queries in flight that cover some, and sends one
   * query for the rest, extended up to `ahead` while nothing is there.
   */
  private async committed(needed: number[], ahead = -1): Promise<Map<number, Buffer>> {
    const waits = new Set<Fetch>();
    let lo = Infinity;
    let hi = -1;
    for (const b of needed) {
      const inFlight = this.fetchCovering(b);
      if (inFlight) waits.add(inFlight);
      else {
        lo = Math.min(lo, b);
        hi = Math.max(hi, b);
      }
    }
    if (hi >= 0) {
      let [from, to] = this.missingAround(lo, hi);
      while (to < ahead && !this.available(to + 1)) to++;
      for (const f of this.startFetches(from, to)) waits.add(f);
    }
    const out = new Map<number, Buffer>();
    for (const f of waits) {
      const got = await f.blocks;
      for (const b of needed) {
        const bytes = got.get(b);
        if (bytes && !out.has(b)) out.set(b, bytes);
      }
    }
    return out;
  }

  /** A fetch in flight, since the last change, that includes block `b`. */
  private fetchCovering(b: number): Fetch | undefined {
    for (const f of this.fetches) if (f.generation === this.generation && f.from <= b && b <= f.to) return f;
    return undefined;
  }

  /** Blocks from..to in one range query; what arrives is cached unless a change came first. */
  private startFetch(from: number, to: number): Fetch {
    const generation = this.generation;
    const reserved = Math.max(0, Math.min(to, this.lastCommitted) - from + 1) * this.blockSize;
    this.fetchingBytes += reserved;
    this.budget.fetchingBytes += reserved;
    const f: Fetch = {
      from, to, generation,
      blocks: blocks.readBlocks(this.db, this.loc, from, to).then((rows) => {
        const got = new Map<number, Buffer>();
        for (const blk of rows) {
          got.set(blk.no, blk.bytes);
          this.budget.fetchedBytes += blk.bytes.length;
          if (generation === this.generation && !this.dirty.has(blk.no)) this.remember(blk.no, blk.bytes);
        }
        return got;
      }).finally(() => {
        this.fetches.delete(f);
        this.fetchingBytes -= reserved;
        this.budget.fetchingBytes -= reserved;
      }),
    };
    // A failure reaches the readers that wait for these blocks; a reader that
    // gave up on an earlier fetch, or a prefetch nobody waits for, must not
    // leave it unhandled (that would end the process).
    f.blocks.catch(() => undefined);
    this.fetches.add(f);
    return f;
  }

  /**
   * A sequential reader that is served from the cache starts the query for the
   * next window once less than half of the current one is left, so that the
   * database works while the reader copies.
   */
  private prefetch(from: number, to: number): void {
    // Blocks up to aheadTo were asked for already (one since dropped is
    // fetched when it is read): look for the window's end after them, not
    // through the whole window at every read, which with 8 KiB blocks and
    // reads cost more than the reads themselves.
    let next = this.aheadGeneration === this.generation ? Math.max(from, this.aheadTo + 1) : from;
    while (next <= to && this.available(next)) next++;
    if (next > to || (next - from) * this.blockSize > this.readahead / 2) return;
    this.startFetches(next, to);
    this.aheadTo = to;
    this.aheadGeneration = this.generation;
  }

  /** Blocks from..to, in pieces of at most FETCH_PIECE_BYTES sent together. */
  private startFetches(from: number, to: number): Fetch[] {
    const piece = Math.max(1, Math.floor(FETCH_PIECE_BYTES / this.blockSize));
    const fetches: Fetch[] = [];
    for (let lo = from; lo <= to; lo += piece) fetches.push(this.startFetch(lo, Math.min(to, lo + piece - 1)));
    return fetches;
  }

  /** The blocks to fetch for the missing lo..hi: from the second miss on, of a small file, every block around them that is missing too. */
  private missingAround(lo: number, hi: number): [number, number] {
    this.misses++;
    if (this.dbSize > WHOLE_FILE_BYTES || this.misses < 2) return [lo, hi];
    while (lo > 0 && !this.available(lo - 1)) lo--;
    while (hi < this.lastCommitted && !this.available(hi + 1)) hi++;
    return [lo, hi];
  }

  /** Block `b` is here or on its way. */
  private available(b: number): boolean {
    return this.dirty.has(b) || this.cached.has(b) || this.fetchCovering(b) !== undefined;
  }

  /**
   * Writes `data` at `pos`, or at the end of the file as it is when the
   * write's turn comes (O_APPEND). `failed` hears of a failure while the
   * write still holds the lock, so before any flush queued behind it runs.
   */
  async write(data: Buffer, pos: number | 'end', failed?: (e: unknown) => void): Promise<number> {
    if (data.length === 0) return 0;
    this.unapplied++;
    try {
      return await this.lock.run(async () => {
        try {
          return await this.writeLocked(data, pos === 'end' ? this.size : pos);
        } catch (e) {
          failed?.(e);
          throw e;
        }
      });
    } finally {
      this.unapplied--;
    }
  }

  private async writeLocked(data: Buffer, pos: number): Promise<number> {
    const end = pos + data.length;
    if (end > MAX_FILE_SIZE) throw fsError('EFBIG', this.path);
    const bs = this.blockSize;
    const first = Math.floor(pos / bs);
    const last = Math.floor((end - 1) / bs);
    const old = await this.committedBlocksUnder(first, last, pos, end);
    this.generation++;
    for (let b = first; b <= last; b++) {
      this.forget(b);
      const start = b * bs;
      const from = Math.max(pos, start) - start;
      const to = Math.min(end, start + bs) - start;
      const blk = this.dirtyBlock(b, to, old.get(b));
      data.copy(blk.data, from, start + from - pos, start + to - pos);
      if (to > blk.len) {
        this.account(to - blk.len);
        blk.len = to;
      }
    }
    this.size = Math.max(this.size, end);
    this.pendingTime = this.clock();
    if (this.dirtySince === 0) this.dirtySince = Date.now();
    if (this.dirtyBytes >= this.budget.limits.perFileBytes || this.budget.bytes >= this.budget.limits.totalBytes) {
      await this.flushLocked();
    }
    return data.length;
  }

  /** Committed content of the blocks a write only partly covers (one range query, shared with reads in flight). */
  private async committedBlocksUnder(first: number, last: number, pos: number, end: number): Promise<Map<number, Buffer>> {
    const bs = this.blockSize;
    const needed: number[] = [];
    const cached = new Map<number, Buffer>();
    for (const b of new Set([first, last])) {
      if (this.dirty.has(b)) continue;
      const c = this.cachedBlock(b);
      if (c) {
        cached.set(b, c);
        continue;
      }
      const start = b * bs;
      const stored = Math.min(bs, Math.max(0, this.dbSize - start));
      if (stored === 0) continue;
      if (pos <= start && end >= start + stored) continue;  // fully overwritten
      needed.push(b);
    }
    if (needed.length === 0) return cached;
    for (const [b, bytes] of await this.committed(needed)) cached.set(b, bytes);
    return cached;
  }

  private dirtyBlock(b: number, minLen: number, committed: Buffer | undefined): DirtyBlock {
    let blk = this.dirty.get(b);
    if (!blk) {
      const start = committed ? Math.min(committed.length, this.blockSize) : 0;
      blk = { data: Buffer.alloc(Math.max(minLen, start)), len: 0 };
      if (committed) {
        committed.copy(blk.data, 0, 0, start);
        blk.len = start;
        this.account(start);
      }
      this.dirty.set(b, blk);
    }
    if (blk.data.length < minLen) {
      const grown = Buffer.alloc(Math.min(this.blockSize, Math.max(minLen, blk.data.length * 2)));
      blk.data.copy(grown, 0, 0, blk.len);
      blk.data = grown;
    }
    return blk;
  }

  private cachedBlock(b: number): Buffer | undefined {
    const c = this.cached.get(b);
    if (c) {
      this.cached.delete(b);
      this.cached.set(b, c);
    }
    return c;
  }

  /** Keeps a committed block, evicting this file's least recently used ones to stay within the limits. */
  private remember(b: number, bytes: Buffer): void {
    this.forget(b);
    const { cachePerFileBytes, cacheTotalBytes } = this.budget.limits;
    while (this.cached.size > 0 && (this.cachedBytes + bytes.length > cachePerFileBytes || this.budget.cachedBytes + bytes.length > cacheTotalBytes)) {
      this.forget(this.cached.keys().next().value!);
    }
    if (this.cachedBytes + bytes.length > cachePerFileBytes || this.budget.cachedBytes + bytes.length > cacheTotalBytes) return;
    this.cached.set(b, bytes);
    this.cachedBytes += bytes.length;
    this.budget.cachedBytes += bytes.length;
  }

  private forget(b: number): void {
    const c = this.cached.get(b);
    if (!c) return;
    this.cached.delete(b);
    this.cachedBytes -= c.length;
    this.budget.cachedBytes -= c.length;
  }

  /** Forgets every cached block: at an open after a change elsewhere (close-to-open), after a truncate, and when the file is retired. */
  dropCache(): void {
    this.generation++;
    for (const b of [...this.cached.keys()]) this.forget(b);
    this.readEnd = 0;
    this.readahead = 0;
    this.misses = 0;
  }

  private account(delta: number): void {
    this.dirtyBytes += delta;
    this.budget.bytes += delta;
  }

  async flush(): Promise<void> {
    if (!this.hasDirty && this.unapplied === 0) return;
    await this.lock.run(() => this.flushLocked());
  }

  private async flushLocked(): Promise<void> {
    if (!this.hasDirty) return;
    if (this.unlinked) {
      this.dropDirty();
      return;
    }
    const size = this.size;
    const bs = this.blockSize;
    const rows: blocks.Block[] = [];
    for (const [no, blk] of [...this.dirty].sort((x, y) => x[0] - y[0])) {
      const len = Math.min(blk.len, size - no * bs);
      if (len > 0) rows.push({ no, bytes: blk.data.subarray(0, len) });
    }
    const time = this.pendingTime;
    const expectedCtime = this.contentStamp?.ctime;
    // Nobody else changed the file since the client saw this stamp: then what
    // the client holds plus these writes (which went through it) is what commits.
    const onlyOurs = time
      ? await this.commit({ loc: this.loc, rows, size, time, expectedCtime })
      : await commitWithTimes(this.db, blocks.blockWrites(this.loc, rows, size), this.path, null, expectedCtime, 60_000);
    this.contentStamp = time && onlyOurs ? { ctime: time, size } : null;
    this.onCommit(this.path, this.contentStamp);
    this.dbSize = size;
    this.generation++;
    for (const r of rows) this.remember(r.no, r.bytes);
    this.dropDirty();
  }

  private dropDirty(): void {
    this.account(-this.dirtyBytes);
    this.dirty.clear();
    this.pendingTime = null;
    this.dirtySince = 0;
  }

  /** Commits pending writes, then cuts or extends the file to `size`. */
  async truncate(size: number, time: Timespec): Promise<void> {
    if (size < 0) throw fsError('EINVAL', this.path);
    if (size > MAX_FILE_SIZE) throw fsError('EFBIG', this.path);
    await this.lock.run(async () => {
      await this.flushLocked();
      const onlyOurs = await truncateCommitted(this.db, this.loc, this.blockSize, this.dbSize, size, time, this.contentStamp?.ctime);
      this.size = size;
      this.dbSize = size;
      this.contentStamp = onlyOurs ? { ctime: time, size } : null;
      this.onCommit(this.path, this.contentStamp);
      // After the commit: a read that fetched blocks before it must not cache them.
      this.dropCache();
    });
  }
}

/**
 * Truncates a file that has no dirty data here: rows, size row and times in
 * one transaction. Returns true if the file's ctime was still `ifCtime`.
 */
export async function truncateCommitted(
  db: Db, loc: blocks.FileLocation, blockSize: number, oldSize: number, size: number, time: Timespec, ifCtime?: Timespec,
): Promise<boolean> {
  const statements = [...(size < oldSize ? blocks.cutAt(loc, size, blockSize) : []), ...blocks.blockWrites(loc, [], size)];
  return commitWithTimes(db, statements, loc.path, time, ifCtime, 600_000);
}

/** A commit of one file's buffered writes: its blocks and size, and its mtime and ctime set to `time`. */
export interface DataCommit {
  loc: blocks.FileLocation;
  rows: blocks.Block[];
  size: number;
  time: Timespec;
  /** The ctime the file had when this client last saw it, if known. */
  expectedCtime?: Timespec;
}

/** Commits a file's writes; answers whether its ctime was still the one expected (nobody else changed it). */
export type Committer = (c: DataCommit) => Promise<boolean>;

/** A commit in a transaction of its own. */
export function commitAlone(db: Db): Committer {
  return (c) => commitWithTimes(db, blocks.blockWrites(c.loc, c.rows, c.size), c.loc.path, c.time, c.expectedCtime, 60_000);
}

/**
 * The most a group commit (commitMany) sends as one multi-statement round
 * trip, more than Db's default: the group's other statements (the locking
 * read, the times, BEGIN and COMMIT) then serve more files. With 256 KiB
 * instead of 64, Figure 10a's closes (ten 2 KiB blocks each) went seven to a
 * transaction on average instead of two: by hand, 8% more operations through
 * FUSE with 17% less MariaDB CPU (README, "Write-back").
 */
export const GROUP_TRIP_BYTES = 256 * 1024;

/**
 * Several files' commits (no file twice) in one transaction: their Directory
 * rows locked and their ctimes read, their blocks and size rows in one upsert
 * per table, their times in one UPDATE. Answers each as commitAlone would.
 * Measured alone (8 connections, one 2 KiB block a file): 180–209 µs of the
 * server's CPU per file with four files a transaction and 157–166 with
 * eight, against 317–336 alone; with one file this shape costs more (about
 * 465), so a lone commit goes by commitAlone.
 */
export async function commitMany(db: Db, cs: DataCommit[]): Promise<boolean[]> {
  const times = namespace.commitTimesMany(cs.map((c) => ({ path: c.loc.path, time: c.time, expectedCtime: c.expectedCtime })));
  const writes = blocks.blockWritesOf(cs.map((c) => ({ f: c.loc, blocks: c.rows, size: c.size })));
  const rows = await db.readThenChange<{ path: Buffer; ctime: string }>(times.read, [...writes, ...times.statements], { timeoutMs: 60_000, oneTripBytes: GROUP_TRIP_BYTES });
  return times.onlyOurs(rows);
}

/**
 * Runs a commit's statements and the update of the file's times (if `time`)
 * as one transaction. Returns true if the file's ctime was still `ifCtime`.
 */
async function commitWithTimes(
  db: Db, statements: Statement[], path: string, time: Timespec | null, ifCtime: Timespec | undefined, timeoutMs: number,
): Promise<boolean> {
  const times = time ? namespace.commitTimes(path, time, ifCtime) : null;
  const matched = await db.atomically([...statements, ...(times?.statements ?? [])], { timeoutMs });
  return times?.onlyOurs(matched.slice(statements.length)) ?? false;
}
