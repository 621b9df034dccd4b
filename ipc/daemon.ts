// `dbos ipc`: the messaging daemon. It wakes local receivers when a local
// sender reports a committed message, checks every second with one query for
// all its subscribers in case a wake-up was missed (a sender on another host,
// a daemon restart), and clears batches whose receiver never came back.
import { chmodSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Db } from '../schema/db.js';
import type { Logger } from '../schema/log.js';
import { clearAbandoned, withWaiting } from './sql.js';
import { hex, lines, unhex } from './wakeup.js';

export interface IpcDaemonOptions {
  socketPath: string;
  /** The safety-net poll (ms). */
  pollMs?: number;
  /** A batch taken and not acknowledged for this long counts as delivered (s). */
  abandonAfterS?: number;
}

export class IpcDaemon {
  private readonly subscribers = new Map<string, Set<Socket>>();
  private server: Server | null = null;
  private timers: NodeJS.Timeout[] = [];
  private failing = false;
  wakeups = 0;

  constructor(private readonly db: Db, private readonly log: Logger, private readonly o: IpcDaemonOptions) {}

  async start(): Promise<void> {
    // A socket left by a daemon that died is removed; a live daemon's is not taken over.
    if (await answers(this.o.socketPath)) throw new Error('another dbos ipc daemon is running');
    rmSync(this.o.socketPath, { force: true });
    this.server = createServer((s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.o.socketPath, () => resolve());
    });
    // Receivers of every user may subscribe; only mailbox names cross this socket.
    chmodSync(this.o.socketPath, 0o666);
    this.timers.push(setInterval(() => void this.safetyNet(), this.o.pollMs ?? 1000));
    this.timers.push(setInterval(() => void this.clear(), 60_000));
  }

  private accept(s: Socket): void {
    const mine = new Set<string>();
    lines(s, (line) => {
      const [verb, ...args] = line.split(' ');
      if (verb === 'SUB' && args[0]) {
        const name = unhex(args[0]);
        mine.add(name);
        if (!this.subscribers.has(name)) this.subscribers.set(name, new Set());
        this.subscribers.get(name)!.add(s);
      } else if (verb === 'UNSUB' && args[0]) {
        const name = unhex(args[0]);
        mine.delete(name);
        this.subscribers.get(name)?.delete(s);
      } else if (verb === 'SENT') {
        for (const h of args) this.wake(unhex(h));
      }
    });
    const drop = () => {
      for (const name of mine) {
        const set = this.subscribers.get(name);
        set?.delete(s);
        if (set && set.size === 0) this.subscribers.delete(name);
      }
    };
    s.on('close', drop);
    s.on('error', drop);
  }

  private wake(name: string): void {
    const set = this.subscribers.get(name);
    if (!set) return;
    const line = `WAKE ${hex(name)}\n`;
    for (const s of set) s.write(line);
    this.wakeups++;
  }

  private async safetyNet(): Promise<void> {
    try {
      for (const name of await withWaiting(this.db, [...this.subscribers.keys()])) this.wake(name);
      if (this.failing) this.log.info('the database answers again');
      this.failing = false;
    } catch (e) {
      // Once per outage, not once a second.
      if (!this.failing) this.log.warn({ err: (e as Error).message }, 'safety-net poll failed; retrying every poll');
      this.failing = true;
    }
  }

  private async clear(): Promise<void> {
    try {
      const n = await clearAbandoned(this.db, this.o.abandonAfterS ?? 600);
      if (n > 0) this.log.info({ messages: n }, 'cleared batches whose receivers never acknowledged them');
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'clearing abandoned batches failed');
    }
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    for (const set of this.subscribers.values()) for (const s of set) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    rmSync(this.o.socketPath, { force: true });
  }
}

/** Whether something accepts connections on this unix socket. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
