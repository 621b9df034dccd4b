// SQL for Mailbox, Message_queue and Message: creating mailboxes, sending (one
// CALL of ipc_send), receiving (one CALL of ipc_recv), and clearing batches
// whose receiver never came back for more.
import type { Db, Queryable } from '../schema/db.js';

/** Largest message, and largest send in all: well under the server's packet limit. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
export const MAX_NAME_BYTES = 255;

export interface Message {
  id: number;
  sender: string;
  topic: string;
  data: Buffer;
  sentAt: string;
}

export interface MailboxRow {
  name: string;
  owner: string;
  pKey: number;
  keepHistory: boolean;
  waiting: number;
}

export class IpcError extends Error {
  constructor(readonly code: 'ENOENT' | 'EEXIST' | 'EMSGSIZE' | 'EINVAL' | 'EACCES', message: string) {
    super(message);
  }
}

export function checkName(name: string, what = 'mailbox name'): void {
  if (name === '' || name.includes('/') || name.includes('\0') || Buffer.byteLength(name) > MAX_NAME_BYTES) {
    throw new IpcError('EINVAL', `a ${what} is 1 to ${MAX_NAME_BYTES} bytes without "/" (got "${name}").`);
  }
}

/** A send named a receiver with no mailbox (the foreign key from Message_queue to Mailbox). */
export function isUnknownReceiver(e: unknown): boolean {
  return (e as { errno?: number })?.errno === 1452;
}

export async function createMailbox(q: Queryable, m: { name: string; owner: string; pKey: number; keepHistory?: boolean }): Promise<boolean> {
  checkName(m.name);
  return (await q.run('INSERT IGNORE INTO Mailbox (name, owner, p_key, keep_history, created_at) VALUES (?, ?, ?, ?, NOW(6))',
    [m.name, m.owner, m.pKey, m.keepHistory ? 1 : 0])) === 1;
}

export async function getMailbox(q: Queryable, name: string): Promise<MailboxRow | null> {
  return (await listMailboxes(q, name))[0] ?? null;
}

export async function listMailboxes(q: Queryable, only?: string): Promise<MailboxRow[]> {
  const rows = await q.rows<{ name: Buffer; owner: string; p_key: number; keep_history: number; waiting: number | null }>(
    `SELECT b.name, b.owner, b.p_key, b.keep_history,
            (SELECT SUM(q.next_seq - q.read_seq) FROM Message_queue q WHERE q.receiver_id = b.name) AS waiting
       FROM Mailbox b ${only === undefined ? '' : 'WHERE b.name = ?'} ORDER BY b.name`, only === undefined ? [] : [only]);
  return rows.map((r) => ({ name: r.name.toString('utf8'), owner: r.owner, pKey: Number(r.p_key), keepHistory: Boolean(Number(r.keep_history)), waiting: Number(r.waiting ?? 0) }));
}

/** Deletes a mailbox with its queues and waiting messages (foreign keys cascade). */
export async function deleteMailbox(q: Queryable, name: string): Promise<boolean> {
  return (await q.run('DELETE FROM Mailbox WHERE name = ?', [name], { timeoutMs: 600_000 })) === 1;
}

export interface Outgoing {
  to: string;
  topic: string;
  data: Buffer;
}

/**
 * Sends messages in one CALL of ipc_send: one transaction, all or nothing.
 * Each distinct Buffer travels once, so a multicast sends its data once.
 */
export async function sendMessages(q: Queryable, sender: string, messages: Outgoing[]): Promise<void> {
  const offsets = new Map<Buffer, number>();
  const parts: Buffer[] = [];
  let size = 0;
  for (const m of messages) {
    if (offsets.has(m.data)) continue;
    offsets.set(m.data, size);
    parts.push(m.data);
    size += m.data.length;
  }
  // Sorted by queue (stable, so each queue keeps the caller's order): every sender locks queues in one order.
  const key = (m: Outgoing) => `${m.to}\0${m.topic}`;
  const sorted = [...messages].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const items: (string | number)[][] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j < sorted.length && key(sorted[j]!) === key(sorted[i]!)) j++;
    for (let k = i; k < j; k++) {
      const m = sorted[k]!;
      items.push([m.to, m.topic, k - i + 1, j - i, offsets.get(m.data)!, m.data.length]);
    }
    i = j;
  }
  await q.call('CALL ipc_send(?, ?, ?)', [sender, JSON.stringify(items), parts.length === 1 ? parts[0]! : Buffer.concat(parts)]);
}

export interface RecvRequest {
  receiver: string;
  /** null: any topic. */
  topic: string | null;
  max: number;
  request: number;
  retry: boolean;
}

/** One receive: acknowledges the queue's previous batch and takes its next (one CALL); `more`: something else is waiting. */
export async function receive(q: Queryable, r: RecvRequest): Promise<{ messages: Message[]; more: boolean }> {
  const rows = await q.call<{ message_id: number; sender_id: Buffer; topic: Buffer; data: Buffer; sent_at: string; more: number }>(
    'CALL ipc_recv(?, ?, ?, ?, ?)', [r.receiver, r.topic, r.max, r.request, r.retry ? 1 : 0]);
  return {
    messages: rows.map((m) => ({ id: Number(m.message_id), sender: m.sender_id.toString('utf8'), topic: m.topic.toString('utf8'), data: m.data, sentAt: String(m.sent_at) })),
    more: rows.length > 0 && Number(rows[0]!.more) === 1,
  };
}

/** Mailboxes among `names` with messages waiting (the daemon's safety net: one query for all). */
export async function withWaiting(q: Queryable, names: string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const rows = await q.rows<{ receiver_id: Buffer }>(
    `SELECT DISTINCT receiver_id FROM Message_queue WHERE receiver_id IN (${names.map(() => '?').join(', ')}) AND read_seq < next_seq`, names);
  return rows.map((r) => r.receiver_id.toString('utf8'));
}

/**
 * Batches handed out long ago that no later receive acknowledged (the
 * receiver exited, or now reads other topics) count as delivered: kept in
 * Message_history if the mailbox keeps history, then removed. Returns how
 * many messages it removed.
 */
export async function clearAbandoned(db: Db, olderThanS: number): Promise<number> {
  return db.tx(async (t) => {
    const stale = await t.rows<{ receiver_id: Buffer; topic: Buffer; batch_lo: number; batch_hi: number; keep_history: number }>(
      `SELECT q.receiver_id, q.topic, q.batch_lo, q.batch_hi, b.keep_history
         FROM Message_queue q JOIN Mailbox b ON b.name = q.receiver_id
        WHERE q.batch_lo <= q.batch_hi AND q.batch_at < NOW(6) - INTERVAL ? SECOND LIMIT 1000 FOR UPDATE`, [olderThanS]);
    let removed = 0;
    for (const s of stale) {
      const range = [s.receiver_id, s.topic, s.batch_lo, s.batch_hi];
      const where = 'WHERE receiver_id = ? AND topic = ? AND message_id BETWEEN ? AND ?';
      if (Number(s.keep_history)) {
        await t.run(`INSERT IGNORE INTO Message_history (receiver_id, topic, message_id, sender_id, data, sent_at, received_at)
                     SELECT receiver_id, topic, message_id, sender_id, data, sent_at, NOW(6) FROM Message ${where}`, range);
      }
      removed += await t.run(`DELETE FROM Message ${where}`, range);
      await t.run('UPDATE Message_queue SET batch_lo = read_seq + 1, batch_hi = read_seq WHERE receiver_id = ? AND topic = ?', [s.receiver_id, s.topic]);
    }
    return removed;
  }, { timeoutMs: 600_000 });
}
