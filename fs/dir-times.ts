// Directory mtime/ctime updates from creating and removing names, coalesced.
// Creating a file is one INSERT; the parent's new times are kept here and
// written within `delayMs` (one row per directory however many names
// changed, up to MAX_DIRS directories an UPDATE), at fsyncdir, and at
// shutdown. fsyncdirs of different directories that wait together share one
// UPDATE: one at a time, each in its own statement, 40 clients each doing
// create + fsync + fsyncdir were held to one fsyncdir per round trip. This
// shim reports the pending times at once, also while they are being written;
// other clients see them after the delay.
import type { Db } from '../schema/db.js';
import { Batcher } from './batcher.js';
import { isWithin, rebase } from './paths.js';
import { Mutex } from './mutex.js';
import * as namespace from './sql/namespace.js';
import { laterOf, type Timespec } from './time.js';

/** Most directories one UPDATE writes. */
const MAX_DIRS = 256;

export class DirTimes {
  private pending = new Map<string, Timespec>();
  /** Times taken from `pending` by a flush and not yet committed. */
  private writing = new Map<string, Timespec>();
  private timer: NodeJS.Timeout | null = null;
  private readonly lock = new Mutex();
  private inFlight = false;
  /** Directories whose times were set explicitly while a flush was in flight. */
  private superseded = new Set<string>();

  /** `onWritten(dir, time)` runs after a directory's times commit: cached rows of it are stale then. */
  constructor(
    private readonly db: Db,
    private readonly delayMs: number,
    private readonly onError: (e: unknown) => void,
    private readonly onWritten: (dir: string, time: Timespec) => void = () => undefined,
  ) {}

  touch(dir: string, time: Timespec): void {
    const had = this.pending.get(dir);
    this.pending.set(dir, had ? laterOf(had, time) : time);
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush().catch(this.onError);
      }, this.delayMs);
    }
  }

  pendingFor(dir: string): Timespec | undefined {
    return this.pending.get(dir) ?? this.writing.get(dir);
  }

  /** fsyncdirs: those asked for while a write is out go together in the next. */
  private readonly fsyncs = new Batcher<string, void>(async (dirs) => {
    await this.write(dirs);
    return dirs.map(() => undefined);
  }, { maxBatch: MAX_DIRS, maxInFlight: 1 });

  /** Writes pending times (all, or those of one directory). Failed writes stay pending. */
  flush(only?: string): Promise<void> {
    return only === undefined ? this.write(undefined) : this.fsyncs.get(only);
  }

  /** Writes the pending times of `only` (or of every directory), MAX_DIRS to a statement. */
  private async write(only: string[] | undefined): Promise<void> {
    await this.lock.run(async () => {
      const batch = (only ?? [...this.pending.keys()]).filter((dir) => this.pending.has(dir))
        .map((dir) => ({ dir, time: this.pending.get(dir)! }));
      for (const { dir, time } of batch) {
        this.pending.delete(dir);
        this.writing.set(dir, time);
      }
      this.superseded.clear();
      this.inFlight = true;
      try {
        let error: unknown;
        for (let i = 0; i < batch.length; i += MAX_DIRS) {
          const part = batch.slice(i, i + MAX_DIRS);
          try {
            await namespace.touchDirectories(this.db, part);
            for (const { dir, time } of part) this.onWritten(dir, time);
          } catch (e) {
            // Retry later, unless utimens has set the times meanwhile.
            for (const { dir, time } of part) if (!this.superseded.has(dir)) this.touch(dir, time);
            error = e;
          } finally {
            for (const { dir } of part) this.writing.delete(dir);
          }
        }
        if (error) throw error;
      } finally {
        this.inFlight = false;
      }
    });
  }

  /** A directory moved: its pending times (and its descendants') move with it. */
  rename(from: string, to: string): void {
    // A write in flight under the old name may miss the moved row: write it again under the new one.
    for (const [dir, time] of [...this.writing, ...this.pending]) {
      if (isWithin(dir, from)) {
        this.pending.delete(dir);
        this.touch(rebase(dir, from, to), time);
      }
    }
  }

  /**
   * Times set explicitly (utimens) supersede earlier pending touches of `dir`;
   * resolves once no write of an earlier touch can land after the caller's.
   */
  async discard(dir: string): Promise<void> {
    this.pending.delete(dir);
    if (this.inFlight) {
      this.superseded.add(dir);
      this.writing.delete(dir);
    }
    await this.lock.run(async () => undefined);
  }

  forget(dir: string): void {
    for (const d of [...this.pending.keys()]) if (isWithin(d, dir)) this.pending.delete(d);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
