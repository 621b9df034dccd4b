// Requests that arrive together go to the database together: lookups of
// rows by key and of ctimes, inserts of new names, unlinks, and commits of
// files' writes. A FUSE daemon serving many clients
// receives their requests as separate callbacks in one turn of the event
// loop; each statement costs the server and mysql2 several times what a row
// does, so one statement per turn (up to `maxBatch` keys) instead of one per
// request leaves both cores more room. A key asked for twice in one turn is
// sent once (inserts, unlinks and commits use a fresh object per request, so
// they never merge).
// A request never joins a statement already sent: that statement may have
// read the row before the request was made. With `maxInFlight`, requests that
// arrive while that many statements are out wait for one to finish and then
// go together (group commit): under load the batches grow, and a lone request
// still goes at once. With a weight per key, a statement also stops short of
// `maxWeight` (a lone key heavier than that still goes, alone).

interface Waiter<V> {
  resolve(v: V): void;
  reject(e: unknown): void;
}

/** How much goes in one statement, and how many statements may be out at once. */
export interface BatchLimits<K> {
  /** Keys in one statement (default 32). */
  maxBatch?: number;
  /** Statements out at once (default unlimited). */
  maxInFlight?: number;
  /** Each key's weight (say, its bytes), and the most one statement carries. */
  weightOf?: (key: K) => number;
  maxWeight?: number;
}

export class Batcher<K, V> {
  private pending = new Map<K, Waiter<V>[]>();
  private scheduled = false;
  private inFlight = 0;
  /** Statements sent so far (a counter, for tests). */
  sent = 0;

  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  /** `fetch` answers its keys in order. */
  constructor(private readonly fetch: (keys: K[]) => Promise<V[]>, private readonly limits: BatchLimits<K> = {}) {
    this.maxBatch = limits.maxBatch ?? 32;
    this.maxInFlight = limits.maxInFlight ?? Infinity;
  }

  get(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const waiters = this.pending.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else this.pending.set(key, [{ resolve, reject }]);
      this.schedule();
    });
  }

  /** A flush after the I/O callbacks of this turn, so that they all join in. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    while (this.pending.size > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.nextBatch();
      for (const [key] of batch) this.pending.delete(key);
      this.sent++;
      this.inFlight++;
      // A fetch that throws instead of rejecting still reaches its callers.
      new Promise<V[]>((answer) => answer(this.fetch(batch.map(([key]) => key)))).then(
        (values) => batch.forEach(([, waiters], j) => waiters.forEach((w) => w.resolve(values[j]))),
        (e: unknown) => batch.forEach(([, waiters]) => waiters.forEach((w) => w.reject(e)))).finally(() => {
        this.inFlight--;
        // What waited for this statement goes now, with what this turn adds.
        if (this.pending.size > 0) this.schedule();
      });
    }
  }

  /** The pending keys that go in the next statement, oldest first, within the limits. */
  private nextBatch(): [K, Waiter<V>[]][] {
    const { weightOf, maxWeight = Infinity } = this.limits;
    const batch: [K, Waiter<V>[]][] = [];
    let weight = 0;
    for (const entry of this.pending) {
      const w = weightOf ? weightOf(entry[0]) : 0;
      if (batch.length === this.maxBatch || (batch.length > 0 && weight + w > maxWeight)) break;
      batch.push(entry);
      weight += w;
    }
    return batch;
  }
}
