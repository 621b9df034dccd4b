// The wake-up path, so that receivers never poll. The `dbos ipc` daemon
// listens on $DBOS_HOME/ipc.sock. A receiver subscribes to its mailbox and
// sleeps on the socket; a sender, after its INSERT has committed, tells the
// daemon which mailboxes it sent to; the daemon wakes their subscribers. The
// socket carries mailbox names only, never message data: the database stays
// the only path for messages, and a lost wake-up only delays a receive until
// the daemon's safety-net poll (one query for all its subscribers, each second).
//
// Lines (names hex-encoded): client → daemon "SUB name", "UNSUB name",
// "SENT name name …"; daemon → client "WAKE name".
import { connect, type Socket } from 'node:net';

export const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');
export const unhex = (s: string) => Buffer.from(s, 'hex').toString('utf8');

/** Splits a stream into lines and calls `onLine` for each. */
export function lines(socket: Socket, onLine: (line: string) => void): void {
  let rest = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    rest += chunk;
    let i: number;
    while ((i = rest.indexOf('\n')) >= 0) {
      onLine(rest.slice(0, i));
      rest = rest.slice(i + 1);
    }
  });
}

export class Wakeups {
  private socket: Socket | null = null;
  private readonly subscribed = new Set<string>();
  /** Mailboxes woken since their waiter last looked. */
  private readonly woken = new Set<string>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private closed = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(private readonly path: string) {}

  /** Connects if the daemon runs; without it, receivers fall back to polling. */
  async start(): Promise<void> {
    await this.connect();
  }

  get connected(): boolean {
    return this.socket !== null;
  }

  private connect(): Promise<void> {
    return new Promise((resolve) => {
      const s = connect(this.path);
      s.once('connect', () => {
        this.socket = s;
        for (const name of this.subscribed) s.write(`SUB ${hex(name)}\n`);
        // Anything sent while we were not connected: look again.
        for (const name of this.subscribed) this.wake(name);
        resolve();
      });
      s.once('error', () => resolve());
      s.once('close', () => {
        if (this.socket === s) this.socket = null;
        if (!this.closed && !this.retry) {
          this.retry = setTimeout(() => { this.retry = null; void this.connect(); }, 1000);
          this.retry.unref();
        }
        for (const name of this.subscribed) this.wake(name);
      });
      lines(s, (line) => {
        const [verb, name] = line.split(' ');
        if (verb === 'WAKE' && name) this.wake(unhex(name));
      });
      s.unref();
    });
  }

  private wake(name: string): void {
    this.woken.add(name);
    for (const w of this.waiters.get(name) ?? []) w();
  }

  subscribe(name: string): void {
    if (this.subscribed.has(name)) return;
    this.subscribed.add(name);
    this.socket?.write(`SUB ${hex(name)}\n`);
  }

  unsubscribe(name: string): void {
    if (!this.subscribed.delete(name)) return;
    this.socket?.write(`UNSUB ${hex(name)}\n`);
  }

  /** After a commit: wake whoever waits on these mailboxes. */
  sent(names: string[]): void {
    if (names.length > 0) this.socket?.write(`SENT ${names.map(hex).join(' ')}\n`);
  }

  /** Forgets earlier wake-ups of `name` (call before looking in the mailbox); says whether there was one. */
  reset(name: string): boolean {
    return this.woken.delete(name);
  }

  /** Whether `name` was woken since the last reset. */
  isWoken(name: string): boolean {
    return this.woken.has(name);
  }

  /**
   * Sleeps until `name` is woken (since the last reset) or `ms` pass. Without
   * a daemon, `ms` should be short: that is the polling fallback.
   */
  wait(name: string, ms: number): Promise<void> {
    if (this.woken.has(name)) return Promise.resolve();
    return new Promise((resolve) => {
      const set = this.waiters.get(name) ?? new Set();
      this.waiters.set(name, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.socket?.destroy();
    this.socket = null;
    for (const set of this.waiters.values()) for (const w of set) w();
  }
}
