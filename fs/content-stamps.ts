// Which version of each file's content the shim's client may still hold in a
// cache of its own: under FUSE, the kernel's page cache, which the kernel
// keeps across an open only when told to (keep_cache). A version is the
// file's committed ctime: every write, truncate or attribute change, from any
// client, moves it (a commit's check that nobody else changed the file reads
// it too). The size rides along for the attributes a commit leaves. The shim
// records the version its client saw (at open, and after each of its own
// commits, whose bytes went through that cache) and compares it with the
// committed ctime at the next open.
import type { Entry } from './sql/namespace.js';
import { compareTime, type Timespec } from './time.js';

export interface ContentStamp {
  ctime: Timespec;
  size: number;
}

export function stampOf(e: Entry): ContentStamp {
  return { ctime: e.ctime, size: e.size };
}

/** Whether `held` is the version whose committed ctime is `ctime`. */
export function sameVersion(held: ContentStamp, ctime: Timespec): boolean {
  return compareTime(held.ctime, ctime) === 0;
}

/** Stamps of closed files, bounded: a forgotten stamp only costs the client its cache. */
export class ContentStamps {
  private readonly stamps = new Map<string, ContentStamp>();

  constructor(private readonly maxEntries = 100_000) {}

  get(path: string): ContentStamp | undefined {
    return this.stamps.get(path);
  }

  set(path: string, stamp: ContentStamp | null): void {
    this.stamps.delete(path);
    if (!stamp) return;
    this.stamps.set(path, stamp);
    if (this.stamps.size > this.maxEntries) this.stamps.delete(this.stamps.keys().next().value!);
  }

  forget(path: string): void {
    this.stamps.delete(path);
  }
}
