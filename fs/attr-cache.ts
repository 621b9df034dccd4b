// A short-lived cache of Directory rows by path. The kernel has just looked a
// file up before it opens it, so with this cache open() costs no round trip.
// Every change made through this shim drops the paths it touches, or patches
// their rows where it knows the result exactly (chmod, chown, utimens, a
// commit that found the ctime it expected, a directory's coalesced times);
// changes made elsewhere are seen once an entry expires (the same 1 s as the
// kernel's own attribute cache).
import { isWithin } from './paths.js';
import type { Entry } from './sql/namespace.js';
import { laterOf, type Timespec } from './time.js';

function movedForward(e: Entry, time: Timespec): Entry {
  return { ...e, mtime: laterOf(e.mtime, time), ctime: laterOf(e.ctime, time) };
}

export class AttrCache {
  private readonly entries = new Map<string, { entry: Entry; expires: number }>();
  /**
   * Bumped by every invalidation. A lookup that was in flight while a change
   * dropped its path must not put the older row back, so set() takes the
   * epoch read before the lookup started and ignores the row if its path
   * changed since.
   */
  private epoch = 0;
  /**
   * The epoch at which each path was last dropped, so that a lookup can tell
   * whether its path changed while it read. Bounded: when it is cleared (or a
   * whole subtree is dropped), `everythingSince` counts every path as changed.
   */
  private droppedAt = new Map<string, number>();
  /** Directories whose times moved forward, and when: rows read before are patched, not refused. */
  private touched = new Map<string, { epoch: number; time: Timespec }>();
  private everythingSince = 0;

  constructor(private readonly ttlMs: number, private readonly maxEntries = 100_000) {}

  get(path: string): Entry | undefined {
    const hit = this.entries.get(path);
    if (!hit) return undefined;
    if (hit.expires < Date.now()) {
      this.entries.delete(path);
      return undefined;
    }
    return hit.entry;
  }

  /** Call before a lookup whose result will be passed to set(). */
  snapshot(): number {
    return this.epoch;
  }

  /**
   * Caches a row read since `readAt`, unless its path changed meanwhile.
   * Returns the row as it stands now: with times that moved forward meanwhile.
   */
  set(entry: Entry, readAt = this.epoch): Entry {
    const touched = this.touched.get(entry.path);
    if (touched && touched.epoch > readAt) entry = movedForward(entry, touched.time);
    if (this.ttlMs <= 0 || this.changedSince(entry.path, readAt)) return entry;
    this.entries.delete(entry.path);
    this.entries.set(entry.path, { entry, expires: Date.now() + this.ttlMs });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return entry;
  }

  /**
   * This shim changed `path`'s row as `change` does to it: the cached row, if
   * any, takes the change, so the stat the kernel asks for next costs no
   * query. It keeps its expiry, since its other fields are no fresher. Like
   * drop(), it keeps out rows read before the change.
   */
  update(path: string, change: (e: Entry) => Entry): void {
    this.changed(path);
    const hit = this.entries.get(path);
    if (hit) hit.entry = change(hit.entry);
  }

  /** True if `path` was dropped (a change to it committed) after `readAt` was taken. */
  changedSince(path: string, readAt: number): boolean {
    return readAt < this.everythingSince || (this.droppedAt.get(path) ?? -1) > readAt;
  }

  drop(path: string): void {
    this.changed(path);
    this.entries.delete(path);
  }

  /** Records a change to `path`, so that rows read before it are kept out. */
  private changed(path: string): void {
    this.epoch++;
    this.droppedAt.set(path, this.epoch);
    if (this.droppedAt.size > this.maxEntries) this.forgetDrops();
  }

  /**
   * A directory's coalesced times committed: its row's mtime and ctime moved
   * forward to `time` (never back). The cached row is patched the same way
   * instead of dropped, because the kernel stats the directory after every
   * create or unlink in it; a lookup in flight is patched as it lands.
   */
  touchTimes(path: string, time: Timespec): void {
    this.epoch++;
    const before = this.touched.get(path);
    this.touched.set(path, { epoch: this.epoch, time: before ? laterOf(before.time, time) : time });
    if (this.touched.size > this.maxEntries) this.forgetDrops();
    const hit = this.entries.get(path);
    if (hit) hit.entry = movedForward(hit.entry, time);
  }

  /**
   * Drops `dir` and everything below it. The scan also evicts expired
   * entries: otherwise they stay until their path is asked for again, and
   * each rmdir of an `rm -rf` would walk everything looked up since (up to
   * 100,000 entries, 4.6 ms a scan here).
   */
  dropBelow(dir: string): void {
    this.epoch++;
    const now = Date.now();
    for (const [path, hit] of this.entries) if (hit.expires < now || isWithin(path, dir)) this.entries.delete(path);
    this.forgetDrops();
  }

  /** How many entries are held, expired or not. */
  get size(): number {
    return this.entries.size;
  }

  private forgetDrops(): void {
    this.droppedAt.clear();
    this.touched.clear();
    this.everythingSince = this.epoch;
  }
}
