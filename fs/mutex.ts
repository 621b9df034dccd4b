// A minimal async mutex: callers queue and run one at a time.
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(work: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise((r) => { release = r; });
    await previous;
    try {
      return await work();
    } finally {
      release();
    }
  }
}
