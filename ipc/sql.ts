// SQL for Mailbox and Message: creating mailboxes, sending (one INSERT, a
// multicast one multi-row INSERT), receiving (one CALL of ipc_recv), and
// clearing batches whose receiver never came back for more.
import type { Param, Queryable } from '../schema/db.js';

/** Largest message: well under MariaDB's default 16 MiB packet, with room for the statement. */
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

export async function createMailbox(q: Queryable, m: { name: string; owner: string; pKey: number; keepHistory?: boolean }): Promise<boolean> {
  checkName(m.name);
  return (await q.run('INSERT IGNORE INTO Mailbox (name, owner, p_key, keep_history, created_at) VALUES (?, ?, ?, ?, NOW(6))',
    [m.name, m.owner, m.pKey, m.keepHistory ? 1 : 0])) === 1;
}

export async function getMailbox(q: Queryable, name: string): Promise<MailboxRow | null> {
  return (await listMailboxes(q, name))[0] ?? null;
}

export async function listMailboxes(q: Queryable, only?: string): Promise<MailboxRow[]> {
  const rows = await q.rows<{ name: Buffer; owner: string; p_key: number; keep_history: number; waiting: number }>(
    `SELECT b.name, b.owner, b.p_key, b.keep_history,
            (SELECT COUNT(*) FROM Message m WHERE m.receiver_id = b.name AND m.taken_by IS NULL) AS waiting
       FROM Mailbox b ${only === undefined ? '' : 'WHERE b.name = ?'} ORDER BY b.name`, only === undefined ? [] : [only]);
  return rows.map((r) => ({ name: r.name.toString('utf8'), owner: r.owner, pKey: Number(r.p_key), keepHistory: Boolean(Number(r.keep_history)), waiting: Number(r.waiting) }));
}

export async function deleteMailbox(q: Queryable, name: string): Promise<boolean> {
  await q.run('DELETE FROM Message WHERE receiver_id = ?', [name], { timeoutMs: 600_000 });
  return (await q.run('DELETE FROM Mailbox WHERE name = ?', [name])) === 1;
}

/**
 * Sends one message to each receiver in one INSERT … SELECT. It inserts only
 * if every receiver has a mailbox (all or nothing); returns how many rows it
 * inserted (0: some receiver is unknown).
 */
export async function insertMessages(q: Queryable, receivers: string[], sender: string, topic: string, data: Buffer): Promise<number> {
  const marks = receivers.map(() => '?').join(', ');
  const params: Param[] = [sender, topic, data, ...receivers, ...receivers, receivers.length];
  return q.run(
    `INSERT INTO Message (receiver_id, sender_id, topic, data, sent_at)
     SELECT b.name, ?, ?, ?, NOW(6) FROM Mailbox b
      WHERE b.name IN (${marks}) AND (SELECT COUNT(*) FROM Mailbox c WHERE c.name IN (${marks})) = ?`,
    params);
}

export interface RecvRequest {
  receiver: string;
  topic: string | null;
  max: number;
  request: number;
  retry: boolean;
  previous: { request: number; lo: number; hi: number } | null;
}

/** One receive: acknowledges the previous batch and takes the next (one CALL). */
export async function receive(q: Queryable, r: RecvRequest): Promise<Message[]> {
  const rows = await q.call<{ message_id: number; sender_id: Buffer; topic: Buffer; data: Buffer; sent_at: string }>(
    'CALL ipc_recv(?, ?, ?, ?, ?, ?, ?, ?)',
    [r.receiver, r.topic, r.max, r.request, r.retry ? 1 : 0, r.previous?.request ?? null, r.previous?.lo ?? null, r.previous?.hi ?? null]);
  return rows.map((m) => ({ id: Number(m.message_id), sender: m.sender_id.toString('utf8'), topic: m.topic.toString('utf8'), data: m.data, sentAt: String(m.sent_at) }));
}

/** Mailboxes among `names` with messages waiting (the daemon's safety net: one query for all). */
export async function withWaiting(q: Queryable, names: string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const rows = await q.rows<{ receiver_id: Buffer }>(
    `SELECT DISTINCT receiver_id FROM Message WHERE receiver_id IN (${names.map(() => '?').join(', ')}) AND taken_by IS NULL`, names);
  return rows.map((r) => r.receiver_id.toString('utf8'));
}

/**
 * Batches taken long ago whose receiver never asked again (it exited or
 * crashed after receiving them) count as delivered: kept in Message_history
 * if the mailbox keeps history, then removed.
 */
export async function clearAbandoned(q: Queryable, olderThanS: number): Promise<number> {
  await q.run(
    `INSERT IGNORE INTO Message_history (receiver_id, message_id, sender_id, topic, data, sent_at, received_at)
     SELECT m.receiver_id, m.message_id, m.sender_id, m.topic, m.data, m.sent_at, m.taken_at
       FROM Message m JOIN Mailbox b ON b.name = m.receiver_id
      WHERE b.keep_history AND m.taken_by IS NOT NULL AND m.taken_at < NOW(6) - INTERVAL ? SECOND`, [olderThanS], { timeoutMs: 600_000 });
  return q.run('DELETE FROM Message WHERE taken_by IS NOT NULL AND taken_at < NOW(6) - INTERVAL ? SECOND', [olderThanS], { timeoutMs: 600_000 });
}
