// The messaging API: send, multicast, receive (with topic and timeout) and an
// async iterator, for a process that owns one mailbox. Messages only ever go
// through the database; the wake-up socket only says "look now".
import { join } from 'node:path';
import type { Db } from '../schema/db.js';
import { isUnavailable } from '../schema/db.js';
import type { DbosHome } from '../schema/home.js';
import { Identities } from '../fs/identity.js';
import * as users from '../fs/sql/users.js';
import { checkName, createMailbox, getMailbox, IpcError, isUnknownReceiver, MAX_MESSAGE_BYTES, receive, sendMessages, type Message } from './sql.js';
import { Wakeups } from './wakeup.js';

export { IpcError, MAX_MESSAGE_BYTES, type Message } from './sql.js';

export interface IpcOptions {
  /** This process's mailbox: where replies come, and what it receives from. */
  name: string;
  /** Create the mailbox if it does not exist (as `uid`'s). */
  create?: boolean;
  keepHistory?: boolean;
  uid?: number;
  /** Where the `dbos ipc` daemon's socket is. */
  home: DbosHome;
}

export interface RecvOptions {
  topic?: string;
  /** Give up after this long (ms); without it, wait as long as it takes. */
  timeoutMs?: number;
  /** Take up to this many messages at once (recvMany). */
  max?: number;
}

const randomRequest = () => Math.floor(Math.random() * 2 ** 52) + 1;

export function wakeupSocket(home: DbosHome): string {
  return join(home.root, 'ipc.sock');
}

export class Ipc {
  /** Topics (null: any) whose last receive found the queue drained; trusted while the daemon is connected and no wake-up came. */
  private readonly drained = new Set<string | null>();
  /** Topics this process received a batch from that no later receive acknowledged yet. */
  private readonly unacknowledged = new Set<string>();
  private closed = false;

  private constructor(private readonly db: Db, readonly name: string, private readonly wakeups: Wakeups) {}

  static async open(db: Db, o: IpcOptions): Promise<Ipc> {
    checkName(o.name);
    if (o.create) {
      const ids = new Identities(db, Math.max(1, await users.partitions(db)));
      await ids.reload();
      const owner = await ids.user(o.uid ?? process.getuid?.() ?? 0);
      await createMailbox(db, { name: o.name, owner: owner.name, pKey: owner.homePartition, keepHistory: o.keepHistory });
    } else if (!(await getMailbox(db, o.name))) {
      throw new IpcError('ENOENT', `there is no mailbox "${o.name}".`);
    }
    const wakeups = new Wakeups(wakeupSocket(o.home));
    await wakeups.start();
    wakeups.subscribe(o.name);
    return new Ipc(db, o.name, wakeups);
  }

  /** Whether wake-ups come from the daemon (else receives poll, from 5 ms to 1 s apart). */
  get daemonConnected(): boolean {
    return this.wakeups.connected;
  }

  /** One message to one mailbox: one CALL. */
  async send(to: string, data: Buffer | string, o: { topic?: string } = {}): Promise<void> {
    await this.multicast([to], data, o);
  }

  /** One message to many mailboxes: one CALL, all or nothing. */
  async multicast(to: string[], data: Buffer | string, o: { topic?: string } = {}): Promise<void> {
    const bytes = asMessage(data);
    const receivers = [...new Set(to)];
    if (receivers.length === 0) throw new IpcError('EINVAL', 'a message needs at least one receiver.');
    for (const r of receivers) checkName(r);
    const topic = o.topic ?? '';
    if (topic) checkName(topic, 'topic');
    await this.sending(receivers, () => sendMessages(this.db, this.name, receivers.map((r) => ({ to: r, topic, data: bytes }))));
  }

  /** Several messages, to one or many mailboxes, in one CALL (all or nothing); at most MAX_MESSAGE_BYTES in all. */
  async sendMany(items: { to: string; data: Buffer | string; topic?: string }[]): Promise<void> {
    if (items.length === 0) return;
    const rows = items.map((i) => {
      checkName(i.to);
      if (i.topic) checkName(i.topic, 'topic');
      return { to: i.to, topic: i.topic ?? '', data: asMessage(i.data) };
    });
    const total = rows.reduce((n, r) => n + r.data.length, 0);
    if (total > MAX_MESSAGE_BYTES) throw new IpcError('EMSGSIZE', `a batch is at most ${MAX_MESSAGE_BYTES} bytes in all (this one is ${total}).`);
    await this.sending([...new Set(rows.map((r) => r.to))], () => sendMessages(this.db, this.name, rows));
  }

  /** Runs a send; names the unknown receivers if there are any; wakes the receivers once it committed. */
  private async sending(receivers: string[], send: () => Promise<void>): Promise<void> {
    try {
      await send();
    } catch (e) {
      if (!isUnknownReceiver(e)) throw e;
      const unknown: string[] = [];
      for (const r of receivers) if (!(await getMailbox(this.db, r))) unknown.push(r);
      throw new IpcError('ENOENT', `no mailbox ${unknown.map((u) => `"${u}"`).join(', ') || 'for some receiver'}; nothing was sent.`);
    }
    this.wakeups.sent(receivers);
  }

  /** The next message (of a topic), or null once the timeout passes. */
  async recv(o: RecvOptions = {}): Promise<Message | null> {
    return (await this.recvMany({ ...o, max: 1 }))[0] ?? null;
  }

  /**
   * Up to `max` messages of one topic (without `topic`: of any), oldest
   * first; waits for at least one. Each receive also acknowledges what the
   * previous receive of that topic returned.
   */
  async recvMany(o: RecvOptions = {}): Promise<Message[]> {
    const deadline = o.timeoutMs === undefined ? Infinity : Date.now() + o.timeoutMs;
    const topic = o.topic ?? null;
    const max = o.max ?? 64;
    let poll = 5;
    for (;;) {
      if (this.closed) return [];
      // Drained last time and no wake-up since: nothing came from a local sender, so wait first.
      const skip = this.drained.has(topic) && this.wakeups.connected && !this.wakeups.isWoken(this.name);
      if (!skip) {
        if (this.wakeups.reset(this.name)) this.drained.clear();
        const { messages, more } = await this.take(topic, max);
        if (more) this.drained.delete(topic);
        else this.drained.add(topic);
        if (messages.length > 0) return messages;
      }
      const left = deadline - Date.now();
      if (left <= 0) return [];
      // With the daemon: sleep until woken (the daemon's own poll is the safety net).
      // Without it: poll, backing off to once a second.
      const nap = this.wakeups.connected ? Math.min(left, 60_000) : Math.min(left, poll);
      poll = Math.min(poll * 2, 1000);
      await this.wakeups.wait(this.name, nap);
    }
  }

  /** One CALL; retried with the same request id if the answer was lost, so nothing is lost or doubled. */
  private async take(topic: string | null, max: number): Promise<{ messages: Message[]; more: boolean }> {
    const request = randomRequest();
    for (let attempt = 0; ; attempt++) {
      try {
        const got = await receive(this.db, { receiver: this.name, topic, max, request, retry: attempt > 0 });
        if (topic !== null) this.unacknowledged.delete(topic);
        if (got.messages.length > 0) this.unacknowledged.add(got.messages[0]!.topic);
        return got;
      } catch (e) {
        if (!isUnavailable(e) || attempt >= 20) throw e;
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * (attempt + 1))));
      }
    }
  }

  /** Messages as they come, forever (or until close). */
  async *messages(o: Omit<RecvOptions, 'timeoutMs'> = {}): AsyncGenerator<Message> {
    while (!this.closed) {
      for (const m of await this.recvMany({ ...o, max: o.max ?? 1 })) yield m;
    }
  }

  /** Acknowledges the last batches and stops; the Db stays open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A receive of nothing only acknowledges.
    for (const topic of this.unacknowledged) {
      await receive(this.db, { receiver: this.name, topic, max: 0, request: randomRequest(), retry: false }).catch(() => undefined);
    }
    this.wakeups.close();
  }
}

function asMessage(data: Buffer | string): Buffer {
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data);
  if (bytes.length > MAX_MESSAGE_BYTES) throw new IpcError('EMSGSIZE', `a message is at most ${MAX_MESSAGE_BYTES} bytes (this one is ${bytes.length}).`);
  return bytes;
}
